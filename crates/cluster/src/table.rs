//! [`ProgressTable`]: the leader's live progress table.
//!
//! Node `i`'s state in a [`SnapshotArray<u64>`] is its progress: how many subtasks of its
//! queue are done. A report from node `i`'s current claim stages the subtask's output
//! and raises the node's state with `set_state`; the leader snaps the array on its
//! interval, and what a snapshot covers is committed (made durable, then pointed to from
//! etcd). When a claim lapses (its worker's lease expired, or the leader revoked it),
//! the node goes back to its state at the last committed snapshot, read with
//! `fetch_state`, and its uncommitted outputs are dropped: the next claim resumes there.
//!
//! # Fast path and control path
//!
//! Reports and heartbeats come in on many streams at once and only take their own
//! node's slot lock, for a push and a `set_state` (the check "is this still the node's
//! current claim?" and the two writes it guards must be one step, or a zombie could pass
//! the check and then overwrite its successor's progress). Everything that moves a node
//! back or forward in a way reports do not (attach, lapse, collect, finish) runs on the
//! leader's one control task, so rollbacks never race snapshots.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use snapstate::{SnapshotArray, SnapshotId};

use crate::error::ClusterError;
use crate::plan::Plan;

/// Why a message from a worker was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The node index is out of range.
    #[error("node {node} does not exist (the job has {nodes} nodes)")]
    NoSuchNode {
        /// The node.
        node: usize,
        /// The job's node count.
        nodes: usize,
    },
    /// The claim is older than the node's newest one: its worker was replaced.
    #[error("claim epoch {epoch} on node {node} is stale (node {node} is at epoch {newest})")]
    StaleEpoch {
        /// The node.
        node: usize,
        /// The claim's epoch.
        epoch: i64,
        /// The newest epoch seen for the node.
        newest: i64,
    },
    /// The message belongs to a stream that is no longer the node's current one.
    #[error("node {node}: this stream's claim is no longer current (lapsed or replaced)")]
    NotCurrent {
        /// The node.
        node: usize,
    },
    /// A report for another position than the node's next one.
    #[error("node {node}: report for position {got}, expected {expected}")]
    OutOfOrder {
        /// The node.
        node: usize,
        /// The position reported.
        got: u64,
        /// The node's next position.
        expected: u64,
    },
    /// The node's queue is fully committed.
    #[error("node {node} is done")]
    NodeDone {
        /// The node.
        node: usize,
    },
}

/// A stream's hold on a node, from [`ProgressTable::attach`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attached {
    /// The node.
    pub node: usize,
    /// The claim's epoch.
    pub epoch: i64,
    /// Identifies this stream's hold; reports carry it.
    pub session: u64,
    /// Where the worker starts: everything before is committed.
    pub position: u64,
    /// The node's queue length.
    pub queue_len: u64,
}

/// What a lapse did to a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rollback {
    /// The node.
    pub node: usize,
    /// Its progress when its claim lapsed.
    pub progress: u64,
    /// Where it was set back to (its state at the last committed snapshot).
    pub resume_at: u64,
}

/// The outputs one snapshot covers on one node.
#[derive(Debug)]
pub struct NodeBatch {
    /// The node.
    pub node: usize,
    /// The claim that produced the outputs.
    pub epoch: i64,
    session: u64,
    from: u64,
    /// The node's progress at the snapshot.
    pub upto: u64,
    /// `(position, output)` for positions `from..upto`.
    outputs: Vec<(u64, Vec<u8>)>,
}

impl NodeBatch {
    /// The outputs as `(subtask, bytes)`.
    pub fn subtask_outputs(&self, plan: Plan) -> impl Iterator<Item = (usize, &[u8])> {
        let node = self.node;
        self.outputs
            .iter()
            .map(move |(pos, o)| (plan.subtask(node, *pos as usize), o.as_slice()))
    }
}

/// A snapshot taken for commit and the new outputs it covers.
#[derive(Debug)]
pub struct Batch {
    /// The snapshot.
    pub snap: SnapshotId,
    /// Every node's progress at the snapshot.
    pub progress: Vec<u64>,
    /// Nodes with outputs not committed before.
    pub nodes: Vec<NodeBatch>,
}

#[derive(Debug)]
struct Slot {
    /// The stream currently allowed to report (0: none).
    session: u64,
    /// The epoch of the claim currently attached, if any.
    owner: Option<i64>,
    /// The newest claim epoch ever seen for the node; older claims are refused.
    newest: i64,
    /// The newest claim epoch known to have lapsed; it and older ones are refused.
    lapsed: i64,
    /// Committed progress: the node's state at the last committed snapshot.
    committed: u64,
    /// Outputs after `committed` not yet taken by a commit batch, in position order.
    pending: VecDeque<(u64, Vec<u8>)>,
    /// The next position the current stream must report (`committed` plus the outputs
    /// pending or in a commit batch in flight).
    next: u64,
    /// The last message from the current session.
    last_seen: Instant,
    queue_len: u64,
}

/// The leader's progress table: a [`SnapshotArray`] and one slot per node.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::{Plan, ProgressTable};
///
/// let table = ProgressTable::new(Plan::new(2, 4)?);
/// let a = table.attach(0, 10)?;
/// table.report(0, a.session, 0, b"out-0".to_vec())?;
/// let batch = table.collect()?;
/// assert_eq!(batch.progress, vec![1, 0]);
/// table.finish(batch)?;
/// assert_eq!(table.committed(0), 1);
/// // The claim lapses: the node restarts at its committed progress.
/// assert_eq!(table.lapse(0, 10)?.unwrap().resume_at, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ProgressTable {
    plan: Plan,
    array: SnapshotArray<u64>,
    slots: Vec<Mutex<Slot>>,
    /// The last committed snapshot (`None`: nothing committed yet, every node at 0).
    committed_snap: Mutex<Option<SnapshotId>>,
    next_session: AtomicU64,
    reports: AtomicU64,
    refused: AtomicU64,
}

impl ProgressTable {
    /// A table for `plan`, every node at 0.
    pub fn new(plan: Plan) -> Self {
        Self::build(
            plan,
            SnapshotArray::new(plan.nodes),
            None,
            vec![0; plan.nodes],
        )
    }

    /// A table resumed from a committed checkpoint: `array` restored at snapshot `snap`
    /// (its next snapshot is `snap + 1`), whose states are each node's committed progress.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Invariant`] if the array does not fit the plan.
    pub fn restored(
        plan: Plan,
        array: SnapshotArray<u64>,
        snap: SnapshotId,
    ) -> Result<Self, ClusterError> {
        if array.len() != plan.nodes {
            return Err(ClusterError::Invariant(format!(
                "the checkpoint has {} nodes, the plan {}",
                array.len(),
                plan.nodes
            )));
        }
        let committed: Vec<u64> = array.fetch_all(snap)?;
        for (node, &c) in committed.iter().enumerate() {
            if c > plan.queue_len(node) as u64 {
                return Err(ClusterError::Invariant(format!(
                    "the checkpoint says node {node} did {c} subtasks of {}",
                    plan.queue_len(node)
                )));
            }
        }
        Ok(Self::build(plan, array, Some(snap), committed))
    }

    fn build(
        plan: Plan,
        array: SnapshotArray<u64>,
        snap: Option<SnapshotId>,
        committed: Vec<u64>,
    ) -> Self {
        let now = Instant::now();
        let slots = (0..plan.nodes)
            .map(|node| {
                Mutex::new(Slot {
                    session: 0,
                    owner: None,
                    newest: 0,
                    lapsed: 0,
                    committed: committed[node],
                    pending: VecDeque::new(),
                    next: committed[node],
                    last_seen: now,
                    queue_len: plan.queue_len(node) as u64,
                })
            })
            .collect();
        ProgressTable {
            plan,
            array,
            slots,
            committed_snap: Mutex::new(snap),
            next_session: AtomicU64::new(1),
            reports: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// The plan.
    pub fn plan(&self) -> Plan {
        self.plan
    }

    /// The progress array itself (for metrics and checkpoints).
    pub fn array(&self) -> &SnapshotArray<u64> {
        &self.array
    }

    fn slot(&self, node: usize) -> Result<MutexGuard<'_, Slot>, Refusal> {
        let slot = self.slots.get(node).ok_or(Refusal::NoSuchNode {
            node,
            nodes: self.plan.nodes,
        })?;
        // Nothing panics while a slot is locked but `set_state` on a bad index, which
        // the plan rules out; a poisoned slot still holds consistent data.
        Ok(slot.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn refuse<T>(&self, r: Refusal) -> Result<T, Refusal> {
        // Relaxed: a statistic.
        self.refused.fetch_add(1, Ordering::Relaxed);
        Err(r)
    }

    /// The last committed snapshot.
    pub fn committed_snapshot(&self) -> Option<SnapshotId> {
        *self
            .committed_snap
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Node `node`'s state at the last committed snapshot, read from the array.
    fn resume_point(&self, node: usize) -> Result<u64, ClusterError> {
        Ok(match self.committed_snapshot() {
            Some(s) => self.array.fetch_state(node, s)?,
            None => 0,
        })
    }

    /// Sets the node back to its committed progress and drops what is pending.
    fn roll_back(&self, node: usize, slot: &mut Slot) -> Result<Rollback, ClusterError> {
        let resume_at = self.resume_point(node)?;
        if resume_at != slot.committed {
            return Err(ClusterError::Invariant(format!(
                "node {node}: the last committed snapshot says {resume_at}, the table {}",
                slot.committed
            )));
        }
        let progress = self.array.current_state(node)?;
        slot.pending.clear();
        slot.next = resume_at;
        self.array.set_state(node, resume_at)?;
        Ok(Rollback {
            node,
            progress,
            resume_at,
        })
    }

    /// Attaches a stream carrying claim `epoch` on `node` (the caller checked in etcd
    /// that it is the node's current claim). Any earlier stream of the node is fenced,
    /// the node goes back to its committed progress, and the stream starts there.
    ///
    /// Control path.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] for an older claim than one already seen, a done node or a bad
    /// index; [`ClusterError`] only for a broken invariant.
    pub fn attach(&self, node: usize, epoch: i64) -> Result<Attached, AttachError> {
        let mut slot = match self.slot(node) {
            Ok(s) => s,
            Err(r) => return Ok(self.refuse(r)?),
        };
        if epoch < slot.newest || epoch <= slot.lapsed {
            let newest = slot.newest.max(slot.lapsed);
            drop(slot);
            return Ok(self.refuse(Refusal::StaleEpoch {
                node,
                epoch,
                newest,
            })?);
        }
        if slot.committed >= slot.queue_len {
            drop(slot);
            return Ok(self.refuse(Refusal::NodeDone { node })?);
        }
        self.roll_back(node, &mut slot)?;
        // Relaxed: only uniqueness matters.
        let session = self.next_session.fetch_add(1, Ordering::Relaxed);
        slot.session = session;
        slot.owner = Some(epoch);
        slot.newest = epoch;
        slot.last_seen = Instant::now();
        Ok(Attached {
            node,
            epoch,
            session,
            position: slot.committed,
            queue_len: slot.queue_len,
        })
    }

    /// Node `node`'s claim of epoch `epoch` has lapsed (its owner key is gone): if it is
    /// the attached one, the node is rolled back and its stream fenced. Returns what was
    /// rolled back, or `None` if that claim was not attached.
    ///
    /// Control path.
    ///
    /// # Errors
    ///
    /// [`ClusterError`] for a bad index or a broken invariant.
    pub fn lapse(&self, node: usize, epoch: i64) -> Result<Option<Rollback>, ClusterError> {
        let mut slot = self
            .slot(node)
            .map_err(|r| ClusterError::Invariant(r.to_string()))?;
        slot.newest = slot.newest.max(epoch);
        slot.lapsed = slot.lapsed.max(epoch);
        if slot.owner != Some(epoch) {
            return Ok(None);
        }
        let rb = self.roll_back(node, &mut slot)?;
        slot.owner = None;
        slot.session = 0;
        Ok(Some(rb))
    }

    /// Records one finished subtask from stream `session`: its output for `position`.
    ///
    /// Fast path: takes only node `node`'s slot lock.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] if the stream's claim is not current, or the position is not the
    /// node's next one.
    pub fn report(
        &self,
        node: usize,
        session: u64,
        position: u64,
        output: Vec<u8>,
    ) -> Result<(), Refusal> {
        let mut slot = match self.slot(node) {
            Ok(s) => s,
            Err(r) => return self.refuse(r),
        };
        if session == 0 || slot.session != session {
            drop(slot);
            return self.refuse(Refusal::NotCurrent { node });
        }
        let expected = slot.next;
        if position != expected || position >= slot.queue_len {
            drop(slot);
            return self.refuse(Refusal::OutOfOrder {
                node,
                got: position,
                expected,
            });
        }
        slot.pending.push_back((position, output));
        slot.next = position + 1;
        slot.last_seen = Instant::now();
        // `node` is in range (the slot exists), so this cannot fail.
        let _ = self.array.set_state(node, position + 1);
        drop(slot);
        // Relaxed: a statistic.
        self.reports.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Records that stream `session` of `node` is alive.
    ///
    /// Fast path.
    ///
    /// # Errors
    ///
    /// [`Refusal::NotCurrent`] if the stream's claim is not current.
    pub fn heartbeat(&self, node: usize, session: u64) -> Result<(), Refusal> {
        let mut slot = match self.slot(node) {
            Ok(s) => s,
            Err(r) => return self.refuse(r),
        };
        if session == 0 || slot.session != session {
            drop(slot);
            return self.refuse(Refusal::NotCurrent { node });
        }
        slot.last_seen = Instant::now();
        Ok(())
    }

    /// Whether stream `session` still holds `node`.
    pub fn is_current(&self, node: usize, session: u64) -> bool {
        self.slot(node)
            .is_ok_and(|s| session != 0 && s.session == session)
    }

    /// Attached claims whose stream has been silent for `timeout`: `(node, epoch)`.
    pub fn silent(&self, timeout: Duration) -> Vec<(usize, i64)> {
        let now = Instant::now();
        (0..self.plan.nodes)
            .filter_map(|n| {
                let s = self.slot(n).ok()?;
                let epoch = s.owner?;
                (s.committed < s.queue_len && now.duration_since(s.last_seen) >= timeout)
                    .then_some((n, epoch))
            })
            .collect()
    }

    /// Takes a snapshot and gathers the outputs it covers that are not committed yet.
    /// Hand the batch to [`finish`](Self::finish) once it is durable, or back with
    /// [`give_back`](Self::give_back) if committing it failed.
    ///
    /// Control path.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Invariant`] if a node's staged outputs do not match what the
    /// snapshot covers (a bug).
    pub fn collect(&self) -> Result<Batch, ClusterError> {
        let snap = self.array.snap();
        let progress = self.array.fetch_all(snap)?;
        let mut nodes = Vec::new();
        for (node, &upto) in progress.iter().enumerate() {
            let mut slot = self
                .slot(node)
                .map_err(|r| ClusterError::Invariant(r.to_string()))?;
            if upto < slot.committed {
                return Err(ClusterError::Invariant(format!(
                    "node {node}: snapshot {snap} says {upto}, below its committed {}",
                    slot.committed
                )));
            }
            let n = (upto - slot.committed) as usize;
            if n == 0 {
                continue;
            }
            let Some(epoch) = slot.owner else {
                return Err(ClusterError::Invariant(format!(
                    "node {node}: {n} uncommitted outputs and no claim"
                )));
            };
            if slot.pending.len() < n {
                return Err(ClusterError::Invariant(format!(
                    "node {node}: snapshot {snap} covers {n} new outputs, {} staged",
                    slot.pending.len()
                )));
            }
            let outputs: Vec<_> = slot.pending.drain(..n).collect();
            nodes.push(NodeBatch {
                node,
                epoch,
                session: slot.session,
                from: slot.committed,
                upto,
                outputs,
            });
        }
        Ok(Batch {
            snap,
            progress,
            nodes,
        })
    }

    /// The batch is durable and pointed to from etcd: its snapshot is the new committed
    /// one. Returns the nodes whose queue it completed.
    ///
    /// Control path.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Invariant`] if the batch does not follow the committed state.
    pub fn finish(&self, batch: Batch) -> Result<Vec<usize>, ClusterError> {
        let mut completed = Vec::new();
        for nb in &batch.nodes {
            let mut slot = self
                .slot(nb.node)
                .map_err(|r| ClusterError::Invariant(r.to_string()))?;
            if slot.committed != nb.from {
                return Err(ClusterError::Invariant(format!(
                    "node {}: batch from {} but committed {}",
                    nb.node, nb.from, slot.committed
                )));
            }
            slot.committed = nb.upto;
            if slot.committed == slot.queue_len {
                completed.push(nb.node);
            }
        }
        for (node, &p) in batch.progress.iter().enumerate() {
            let slot = self
                .slot(node)
                .map_err(|r| ClusterError::Invariant(r.to_string()))?;
            if slot.committed != p {
                return Err(ClusterError::Invariant(format!(
                    "node {node}: snapshot {} says {p}, committed {}",
                    batch.snap, slot.committed
                )));
            }
        }
        *self
            .committed_snap
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(batch.snap);
        // Older snapshots are never read again (rollbacks read the committed one).
        let _ = self.array.compact(batch.snap);
        Ok(completed)
    }

    /// Committing `batch` failed: its outputs go back to their nodes (those still on
    /// the same stream; a node rolled back since has dropped them for good).
    ///
    /// Control path.
    pub fn give_back(&self, batch: Batch) {
        for nb in batch.nodes {
            let Ok(mut slot) = self.slot(nb.node) else {
                continue;
            };
            if slot.session != nb.session || slot.committed != nb.from {
                continue;
            }
            for out in nb.outputs.into_iter().rev() {
                slot.pending.push_front(out);
            }
        }
    }

    /// Node `node`'s committed progress.
    pub fn committed(&self, node: usize) -> u64 {
        self.slot(node).map_or(0, |s| s.committed)
    }

    /// Whether every node's queue is committed.
    pub fn is_complete(&self) -> bool {
        (0..self.plan.nodes).all(|n| self.slot(n).is_ok_and(|s| s.committed == s.queue_len))
    }

    /// Nodes whose queue is empty or fully committed.
    pub fn done_nodes(&self) -> Vec<usize> {
        (0..self.plan.nodes)
            .filter(|&n| self.slot(n).is_ok_and(|s| s.committed == s.queue_len))
            .collect()
    }

    /// The session of the stream attached to `node`, if any.
    pub fn session_of(&self, node: usize) -> Option<u64> {
        self.slot(node)
            .ok()
            .and_then(|s| (s.session != 0).then_some(s.session))
    }

    /// The claim attached to `node`, if any.
    pub fn owner(&self, node: usize) -> Option<i64> {
        self.slot(node).ok().and_then(|s| s.owner)
    }

    /// Reports accepted so far.
    pub fn reports(&self) -> u64 {
        // Relaxed: a statistic.
        self.reports.load(Ordering::Relaxed)
    }

    /// Messages refused so far.
    pub fn refused(&self) -> u64 {
        // Relaxed: a statistic.
        self.refused.load(Ordering::Relaxed)
    }
}

/// Why [`ProgressTable::attach`] did not attach.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The claim is refused; the stream is told why and ends.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A bug.
    #[error(transparent)]
    Broken(#[from] ClusterError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(nodes: usize, subtasks: usize) -> ProgressTable {
        ProgressTable::new(Plan::new(nodes, subtasks).unwrap())
    }

    #[test]
    fn reports_must_come_in_order_from_the_current_stream() {
        let t = table(2, 6);
        let a = t.attach(1, 5).unwrap();
        assert_eq!((a.position, a.queue_len), (0, 3));
        assert!(matches!(
            t.report(1, a.session, 1, vec![]),
            Err(Refusal::OutOfOrder { .. })
        ));
        t.report(1, a.session, 0, b"x".to_vec()).unwrap();
        assert!(matches!(
            t.report(1, a.session + 1, 1, vec![]),
            Err(Refusal::NotCurrent { .. })
        ));
        assert!(matches!(
            t.report(0, a.session, 0, vec![]),
            Err(Refusal::NotCurrent { .. })
        ));
        assert!(matches!(
            t.report(9, a.session, 0, vec![]),
            Err(Refusal::NoSuchNode { .. })
        ));
        assert_eq!(t.array().current_state(1).unwrap(), 1);
        assert_eq!((t.reports(), t.refused()), (1, 4));
    }

    #[test]
    fn a_lapsed_claim_rolls_back_to_the_last_commit_and_is_fenced() {
        let t = table(1, 5);
        let a = t.attach(0, 10).unwrap();
        for p in 0..2 {
            t.report(0, a.session, p, vec![p as u8]).unwrap();
        }
        let b = t.collect().unwrap();
        assert_eq!(b.nodes[0].upto, 2);
        assert!(t.finish(b).unwrap().is_empty());
        t.report(0, a.session, 2, vec![2]).unwrap();
        let rb = t.lapse(0, 10).unwrap().unwrap();
        assert_eq!((rb.progress, rb.resume_at), (3, 2));
        assert!(
            t.report(0, a.session, 3, vec![3]).is_err(),
            "a zombie must not report"
        );
        assert!(t.lapse(0, 10).unwrap().is_none());
        // The old claim cannot attach again; a newer one resumes at the commit.
        assert!(matches!(
            t.attach(0, 10),
            Err(AttachError::Refused(Refusal::StaleEpoch { .. }))
        ));
        let c = t.attach(0, 12).unwrap();
        assert_eq!(c.position, 2);
        assert!(matches!(t.attach(0, 11), Err(AttachError::Refused(_))));
        for p in 2..5 {
            t.report(0, c.session, p, vec![p as u8]).unwrap();
        }
        let b = t.collect().unwrap();
        let outs: Vec<_> = b.nodes[0]
            .subtask_outputs(t.plan())
            .map(|(s, o)| (s, o.to_vec()))
            .collect();
        assert_eq!(outs, vec![(2, vec![2]), (3, vec![3]), (4, vec![4])]);
        assert_eq!(t.finish(b).unwrap(), vec![0]);
        assert!(t.is_complete());
        assert!(matches!(
            t.attach(0, 13),
            Err(AttachError::Refused(Refusal::NodeDone { .. }))
        ));
    }

    #[test]
    fn a_failed_commit_gives_outputs_back_unless_the_node_moved_on() {
        let t = table(2, 4);
        let a = t.attach(0, 1).unwrap();
        let b = t.attach(1, 2).unwrap();
        t.report(0, a.session, 0, vec![0]).unwrap();
        t.report(1, b.session, 0, vec![1]).unwrap();
        let batch = t.collect().unwrap();
        assert_eq!(batch.nodes.len(), 2);
        // Commit refused because node 1's claim lapsed: node 1 drops its output.
        t.lapse(1, 2).unwrap().unwrap();
        t.give_back(batch);
        t.report(0, a.session, 1, vec![2]).unwrap();
        let batch = t.collect().unwrap();
        assert_eq!(batch.progress, vec![2, 0]);
        assert_eq!(batch.nodes.len(), 1);
        t.finish(batch).unwrap();
        assert_eq!((t.committed(0), t.committed(1)), (2, 0));
    }

    #[test]
    fn reports_continue_while_a_commit_is_in_flight() {
        let t = table(1, 6);
        let a = t.attach(0, 1).unwrap();
        t.report(0, a.session, 0, vec![0]).unwrap();
        t.report(0, a.session, 1, vec![1]).unwrap();
        let batch = t.collect().unwrap();
        t.report(0, a.session, 2, vec![2]).unwrap();
        t.give_back(batch);
        t.report(0, a.session, 3, vec![3]).unwrap();
        let batch = t.collect().unwrap();
        t.report(0, a.session, 4, vec![4]).unwrap();
        let outs: Vec<_> = batch.nodes[0]
            .subtask_outputs(t.plan())
            .map(|(s, _)| s)
            .collect();
        assert_eq!(outs, vec![0, 1, 2, 3]);
        t.finish(batch).unwrap();
        t.report(0, a.session, 5, vec![5]).unwrap();
        let batch = t.collect().unwrap();
        assert_eq!((batch.nodes[0].from, batch.nodes[0].upto), (4, 6));
        assert_eq!(t.finish(batch).unwrap(), vec![0]);
    }

    #[test]
    fn a_restored_table_continues_snapshot_ids_and_progress() {
        let plan = Plan::new(2, 6).unwrap();
        let t = ProgressTable::new(plan);
        let a = t.attach(0, 1).unwrap();
        t.report(0, a.session, 0, vec![]).unwrap();
        let batch = t.collect().unwrap();
        let snap = batch.snap;
        t.finish(batch).unwrap();
        let bytes = snapstate::checkpoint::encode_u64(&t.array().fetch_all(snap).unwrap(), snap);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p"), bytes).unwrap();
        let (array, at) = SnapshotArray::restore_checkpoint(dir.path().join("p")).unwrap();
        let r = ProgressTable::restored(plan, array, at).unwrap();
        assert_eq!(r.committed(0), 1);
        let c = r.attach(0, 1).unwrap();
        assert_eq!(c.position, 1);
        assert!(r.collect().unwrap().snap > snap);
    }

    #[test]
    fn silent_streams_are_found() {
        let t = table(2, 4);
        let _a = t.attach(0, 1).unwrap();
        assert_eq!(t.silent(Duration::ZERO), vec![(0, 1)]);
        assert!(t.silent(Duration::from_secs(3600)).is_empty());
    }
}
