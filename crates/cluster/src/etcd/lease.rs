//! [`Lease`]: a granted etcd lease kept alive in the background, that knows when it can
//! no longer be trusted.
//!
//! The keepalive stream dies with the member that carried it, so it is reopened on the
//! next endpoint (same lease id). Independently of what etcd says, the lease counts as
//! *lost* once [`SELF_FENCE`] of its TTL has passed since the last keepalive that etcd
//! confirmed was *sent*: etcd renews a lease to "receipt + TTL", which is later than
//! "send + TTL", so a holder that stops acting at "send + 0.9 TTL" has stopped before
//! etcd can let anyone else take over what the lease guards. That is how a partitioned
//! leader or worker fences itself.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::pool::Etcd;
use crate::error::ClusterError;

/// The fraction of the TTL after the last confirmed keepalive at which a holder stops
/// trusting its lease.
pub const SELF_FENCE: f64 = 0.9;

#[derive(Debug)]
struct Shared {
    /// When the last keepalive that etcd answered (with a live TTL) was sent.
    renewed_at: Mutex<Instant>,
    lost: watch::Sender<bool>,
}

/// A lease of TTL `ttl`, renewed every `ttl / 3` until dropped, revoked or lost.
#[derive(Debug)]
pub struct Lease {
    id: i64,
    ttl: Duration,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    watchdog: JoinHandle<()>,
}

impl Lease {
    /// Grants a lease of `ttl` (whole seconds, at least 1) and starts keeping it alive.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if no endpoint grants it.
    pub async fn grant(etcd: &Etcd, ttl: Duration) -> Result<Self, ClusterError> {
        let secs = ttl.as_secs().max(1) as i64;
        let sent = Instant::now();
        let resp = etcd
            .call("lease grant", |mut c| async move {
                c.lease_grant(secs, None).await
            })
            .await?;
        let ttl = Duration::from_secs(resp.ttl().max(1) as u64);
        let (lost, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            renewed_at: Mutex::new(sent),
            lost,
        });
        let task = tokio::spawn(keep_alive(
            etcd.clone(),
            resp.id(),
            ttl,
            Arc::clone(&shared),
        ));
        let watchdog = tokio::spawn(watchdog(ttl, Arc::clone(&shared)));
        Ok(Lease {
            id: resp.id(),
            ttl,
            shared,
            task,
            watchdog,
        })
    }

    /// The lease id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The TTL etcd granted.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Until when the holder may trust the lease (absent further renewals).
    pub fn valid_until(&self) -> Instant {
        let renewed = *self
            .shared
            .renewed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        renewed + self.ttl.mul_f64(SELF_FENCE)
    }

    /// Whether the lease is still trusted: not lost, and renewed recently enough.
    pub fn is_valid(&self) -> bool {
        !*self.shared.lost.borrow() && Instant::now() < self.valid_until()
    }

    /// Resolves once the lease is lost (expired at etcd, or not renewed in time).
    pub async fn lost(&self) {
        let mut rx = self.shared.lost.subscribe();
        // An error means the sender is gone, which only happens with `self`; never here.
        let _ = rx.wait_for(|lost| *lost).await;
    }

    /// A receiver that turns `true` once the lease is lost.
    pub fn watch_lost(&self) -> watch::Receiver<bool> {
        self.shared.lost.subscribe()
    }

    /// Stops renewing the lease without revoking it: it expires after its TTL, as if
    /// the holder had died. For tests of expiry.
    pub fn abandon(&self) {
        self.task.abort();
    }

    /// Revokes the lease (deleting every key on it) and stops renewing it.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Etcd`] if etcd cannot be told; the lease then expires by itself.
    pub async fn revoke(self, etcd: &Etcd) -> Result<(), ClusterError> {
        self.task.abort();
        let id = self.id;
        let res = etcd
            .call(
                "lease revoke",
                |mut c| async move { c.lease_revoke(id).await },
            )
            .await;
        self.shared.lost.send_replace(true);
        match res {
            Ok(_) => Ok(()),
            // Already gone: what revoking was for.
            Err(ClusterError::Etcd { message, .. }) if message.contains("lease not found") => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
        self.watchdog.abort();
    }
}

/// Declares the lease lost the moment its trust runs out, not at the keepalive loop's
/// next turn (which may be waiting on a dead connection).
async fn watchdog(ttl: Duration, shared: Arc<Shared>) {
    loop {
        let renewed = *shared
            .renewed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let until = renewed + ttl.mul_f64(SELF_FENCE);
        if Instant::now() >= until || *shared.lost.borrow() {
            shared.lost.send_replace(true);
            return;
        }
        tokio::time::sleep_until(until.into()).await;
    }
}

async fn keep_alive(etcd: Etcd, id: i64, ttl: Duration, shared: Arc<Shared>) {
    let every = (ttl / 3).max(Duration::from_millis(50));
    let answer_within = (ttl / 3).max(Duration::from_millis(50));
    let expired = |shared: &Shared| {
        let renewed = *shared
            .renewed_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Instant::now() >= renewed + ttl.mul_f64(SELF_FENCE)
    };
    loop {
        if expired(&shared) {
            shared.lost.send_replace(true);
            return;
        }
        let (i, mut client) = etcd.stream_client();
        let opened = tokio::time::timeout(answer_within, client.lease_keep_alive(id)).await;
        let (mut keeper, mut stream) = match opened {
            Ok(Ok(pair)) => pair,
            _ => {
                etcd.failed(i);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        loop {
            if expired(&shared) {
                shared.lost.send_replace(true);
                return;
            }
            let sent = Instant::now();
            if tokio::time::timeout(answer_within, keeper.keep_alive())
                .await
                .map_or(true, |r| r.is_err())
            {
                break;
            }
            match tokio::time::timeout(answer_within, stream.message()).await {
                Ok(Ok(Some(resp))) if resp.ttl() > 0 => {
                    *shared
                        .renewed_at
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = sent;
                }
                Ok(Ok(Some(_))) => {
                    // TTL 0: etcd says the lease has expired (or was revoked).
                    shared.lost.send_replace(true);
                    return;
                }
                _ => break,
            }
            tokio::time::sleep(every).await;
        }
        etcd.failed(i);
    }
}

/// A guard against acting on a lost lease: `check` fails once the lease is lost.
///
/// # Errors
///
/// [`ClusterError::Fenced`] with `what` once the lease is no longer valid.
pub fn ensure_valid(lease: &Lease, what: &str) -> Result<(), ClusterError> {
    if lease.is_valid() {
        Ok(())
    } else {
        Err(ClusterError::Fenced(format!(
            "the lease of this {what} could not be renewed within {:.1} s",
            lease.ttl().as_secs_f64() * SELF_FENCE
        )))
    }
}
