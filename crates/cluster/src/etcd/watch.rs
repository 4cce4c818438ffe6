//! A watch on a key prefix that survives the loss of etcd members: it is reopened on
//! another endpoint from the revision after the last event it delivered, so no event is
//! lost or repeated.

use std::time::Duration;

use etcd_client::{EventType, WatchOptions};
use tokio::sync::mpsc;

use super::pool::Etcd;

/// One change under the watched prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyEvent {
    /// A key was created or updated.
    Put {
        /// The key.
        key: Vec<u8>,
        /// Its value.
        value: Vec<u8>,
        /// Its create_revision (for an owner key: the claim's epoch).
        create_revision: i64,
        /// The revision of this change.
        mod_revision: i64,
    },
    /// A key was deleted (or its lease expired).
    Delete {
        /// The key.
        key: Vec<u8>,
        /// The revision of the deletion.
        mod_revision: i64,
        /// The deleted key's create_revision, when etcd still had it.
        prev_create_revision: Option<i64>,
    },
}

/// What a watch delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    /// Changes, in revision order.
    Events(Vec<KeyEvent>),
    /// History was compacted past the last delivered revision: events may have been
    /// missed, so the receiver must re-read the prefix and watch again from there.
    Resync,
}

/// Watches every key under `prefix` from revision `start` on (`start` is usually the
/// revision of the read that preceded the watch, plus one). The watch runs until the
/// receiver is dropped.
pub fn watch_prefix(etcd: &Etcd, prefix: String, start: i64) -> mpsc::Receiver<WatchItem> {
    let (tx, rx) = mpsc::channel(256);
    let etcd = etcd.clone();
    tokio::spawn(async move {
        let mut next = start;
        loop {
            let (i, mut client) = etcd.stream_client();
            let opts = WatchOptions::new()
                .with_prefix()
                .with_prev_key()
                .with_start_revision(next);
            let opened = tokio::time::timeout(
                etcd.options().op_timeout_value(),
                client.watch(prefix.clone(), Some(opts)),
            )
            .await;
            let mut stream = match opened {
                Ok(Ok(s)) => s,
                _ => {
                    etcd.failed(i);
                    if tx.is_closed() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            loop {
                let msg = tokio::select! {
                    m = stream.message() => m,
                    () = tx.closed() => return,
                };
                let resp = match msg {
                    Ok(Some(resp)) => resp,
                    _ => break,
                };
                if resp.compact_revision() > 0 && resp.compact_revision() >= next {
                    if tx.send(WatchItem::Resync).await.is_err() {
                        return;
                    }
                    return;
                }
                if resp.canceled() {
                    break;
                }
                let mut events = Vec::new();
                for ev in resp.events() {
                    let Some(kv) = ev.kv() else { continue };
                    next = next.max(kv.mod_revision() + 1);
                    events.push(match ev.event_type() {
                        EventType::Put => KeyEvent::Put {
                            key: kv.key().to_vec(),
                            value: kv.value().to_vec(),
                            create_revision: kv.create_revision(),
                            mod_revision: kv.mod_revision(),
                        },
                        EventType::Delete => KeyEvent::Delete {
                            key: kv.key().to_vec(),
                            mod_revision: kv.mod_revision(),
                            prev_create_revision: ev.prev_kv().map(|p| p.create_revision()),
                        },
                    });
                }
                if !events.is_empty() && tx.send(WatchItem::Events(events)).await.is_err() {
                    return;
                }
            }
            etcd.failed(i);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    rx
}
