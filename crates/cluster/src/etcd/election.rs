//! Leader election on etcd's election API, and finding the current leader.
//!
//! A candidate campaigns with its lease; etcd makes it leader once every key of the
//! election created before its own is gone. The leader key's `create_revision` is the
//! **leader epoch**: every write the leader makes is a txn that compares it
//! ([`Leadership::guard`]), so a deposed leader (its lease expired, its key deleted, or a
//! newer leader in place) can never write, whatever it believes.

use std::time::Duration;

use etcd_client::{Compare, CompareOp, GetOptions, SortOrder, SortTarget};

use super::lease::Lease;
use super::pool::Etcd;
use crate::error::ClusterError;

/// This process is the leader of an election: its key and epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leadership {
    /// The leader key (`<election>/<lease id in hex>`).
    pub key: Vec<u8>,
    /// The leader key's create_revision: the leader epoch.
    pub epoch: i64,
}

impl Leadership {
    /// The compare every leader write carries: the leader key still exists with this
    /// epoch as its create_revision.
    pub fn guard(&self) -> Compare {
        Compare::create_revision(self.key.clone(), CompareOp::Equal, self.epoch)
    }
}

/// The current leader of an election, as any process sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderInfo {
    /// What the leader campaigned with: its gRPC address.
    pub value: String,
    /// Its epoch (the leader key's create_revision).
    pub epoch: i64,
}

/// Campaigns for `election` with `value` (the candidate's address) on `lease`, until
/// elected; the campaign is retried on another endpoint if the one carrying it fails.
///
/// # Errors
///
/// [`ClusterError::Fenced`] if the lease is lost while waiting; [`ClusterError::Etcd`]
/// for a refusal that retrying cannot fix.
pub async fn campaign(
    etcd: &Etcd,
    election: &str,
    value: &str,
    lease: &Lease,
) -> Result<Leadership, ClusterError> {
    loop {
        let (i, mut client) = etcd.stream_client();
        let attempt = client.campaign(election, value, lease.id());
        let result = tokio::select! {
            r = attempt => r,
            () = lease.lost() => {
                return Err(ClusterError::Fenced(
                    "the coordinator's lease expired while it was campaigning".into(),
                ))
            }
        };
        match result {
            Ok(mut resp) => {
                let Some(key) = resp.take_leader() else {
                    return Err(ClusterError::Etcd {
                        what: "campaign",
                        message: "etcd answered without a leader key".into(),
                    });
                };
                // Retrying a campaign on the same lease reuses the same key, so this is
                // the one key of this candidate whichever attempt won.
                return Ok(Leadership {
                    key: key.key().to_vec(),
                    epoch: key.rev(),
                });
            }
            Err(e) => {
                let msg = e.to_string();
                if msg.contains("lease not found") || msg.contains("requested lease not found") {
                    return Err(ClusterError::Fenced(format!(
                        "the coordinator's lease is gone ({msg})"
                    )));
                }
                etcd.failed(i);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// The current leader of `election`, if any: the key under it with the lowest
/// create_revision (what etcd's election API calls the leader).
///
/// # Errors
///
/// [`ClusterError::Etcd`] if etcd cannot be asked.
pub async fn current_leader(
    etcd: &Etcd,
    election: &str,
) -> Result<Option<LeaderInfo>, ClusterError> {
    let prefix = format!("{election}/");
    let resp = etcd
        .call("get leader", |mut c| {
            let prefix = prefix.clone();
            async move {
                let opts = GetOptions::new()
                    .with_prefix()
                    .with_sort(SortTarget::Create, SortOrder::Ascend)
                    .with_limit(1);
                c.get(prefix, Some(opts)).await
            }
        })
        .await?;
    Ok(resp.kvs().first().map(|kv| LeaderInfo {
        value: String::from_utf8_lossy(kv.value()).into_owned(),
        epoch: kv.create_revision(),
    }))
}

/// Whether `leadership` still holds: its key exists with its epoch.
///
/// # Errors
///
/// [`ClusterError::Etcd`] if etcd cannot be asked.
pub async fn still_leader(etcd: &Etcd, leadership: &Leadership) -> Result<bool, ClusterError> {
    let key = leadership.key.clone();
    let resp = etcd
        .call("get leader key", |mut c| {
            let key = key.clone();
            async move { c.get(key, None).await }
        })
        .await?;
    Ok(resp
        .kvs()
        .first()
        .is_some_and(|kv| kv.create_revision() == leadership.epoch))
}
