//! [`Pointer`]: the checkpoint pointer in etcd: which snapshot is committed, every
//! node's progress at it, and the store files that hold it. Written by a leader-guarded
//! txn after the files it lists are durable.

use serde::{Deserialize, Serialize};

use crate::error::ClusterError;
use crate::plan::Plan;
use crate::store::is_store_file_name;

/// The pointer's format.
pub const POINTER_FORMAT: u32 = 1;
/// The largest pointer accepted, in bytes (etcd refuses requests above 1.5 MiB).
pub const MAX_POINTER_BYTES: usize = 1 << 20;

/// The committed state of a job.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::{Plan, Pointer};
///
/// let plan = Plan::new(2, 4)?;
/// let p = Pointer {
///     format: 1,
///     leader_epoch: 7,
///     snapshot: 3,
///     progress: vec![1, 2],
///     progress_file: "progress-0000000000000007-0000000000000003.ckpt".into(),
///     segments: vec!["seg-0000000000000007-0000000000000003.bin".into()],
/// };
/// assert_eq!(Pointer::parse(&p.to_json(), plan)?, p);
/// assert_eq!(p.committed(), 3);
/// # Ok::<(), snapstate_cluster::ClusterError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pointer {
    /// [`POINTER_FORMAT`].
    pub format: u32,
    /// The epoch of the leader that wrote it.
    pub leader_epoch: i64,
    /// The committed snapshot's id; a new leader's snapshots continue after it.
    pub snapshot: u64,
    /// Every node's progress at that snapshot: its committed subtasks.
    pub progress: Vec<u64>,
    /// The progress array at that snapshot, as a core checkpoint file in the store.
    pub progress_file: String,
    /// Segment files in the store holding every committed output, oldest first.
    pub segments: Vec<String>,
}

impl Pointer {
    /// The JSON stored in etcd.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain data: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Subtasks committed in all.
    pub fn committed(&self) -> u64 {
        self.progress.iter().sum()
    }

    /// Parses and checks a pointer read from etcd against the job's plan.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Spec`] for a pointer that is too large, malformed, names a file
    /// outside the store, or does not fit the plan.
    pub fn parse(bytes: &[u8], plan: Plan) -> Result<Self, ClusterError> {
        let bad = |why: String| ClusterError::Spec(format!("the checkpoint pointer in etcd {why}"));
        if bytes.len() > MAX_POINTER_BYTES {
            return Err(bad(format!(
                "is {} bytes, over {MAX_POINTER_BYTES}",
                bytes.len()
            )));
        }
        let p: Pointer =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("is malformed: {e}")))?;
        if p.format != POINTER_FORMAT {
            return Err(bad(format!(
                "has format {}, not {POINTER_FORMAT}",
                p.format
            )));
        }
        if p.progress.len() != plan.nodes {
            return Err(bad(format!(
                "has {} nodes, the job {}",
                p.progress.len(),
                plan.nodes
            )));
        }
        for (node, &done) in p.progress.iter().enumerate() {
            if done > plan.queue_len(node) as u64 {
                return Err(bad(format!(
                    "says node {node} did {done} of its {} subtasks",
                    plan.queue_len(node)
                )));
            }
        }
        for name in p.segments.iter().chain([&p.progress_file]) {
            if !is_store_file_name(name) {
                return Err(bad(format!("names {name:?}, which is not a store file")));
            }
        }
        Ok(p)
    }
}
