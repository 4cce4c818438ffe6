//! One term of leadership: the control task. It alone attaches claims, rolls nodes
//! back, and commits snapshots, so those never race each other; the stream handlers
//! only feed reports into the table.
//!
//! Each tick of `--snapshot-every`: take a snapshot, write the outputs it newly covers
//! and the progress array to the store (durable), then write the checkpoint pointer in
//! a txn guarded by this leader's epoch and by the claim of every node whose outputs it
//! commits. Failures are noticed three ways: a claim's owner key is deleted (its
//! worker's lease expired: a killed, frozen or partitioned worker), its stream ends
//! (the worker process died or closed it), or its stream stays silent past the stall
//! timeout (a hung worker). The first rolls the node back; the other two revoke the
//! claim in etcd first, so the worker, if alive, is fenced there too.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::state::{ControlMsg, LeaderState};
use crate::error::ClusterError;
use crate::etcd::{CommitOutcome, KeyEvent, Leadership, Lease, WatchItem};
use crate::metrics::NodeLabel;
use crate::pointer::{Pointer, POINTER_FORMAT};
use crate::store::Store;
use crate::table::{AttachError, Batch, Rollback};
use crate::wire::build;

/// A term's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TermConfig {
    pub(crate) snapshot_every: Duration,
    pub(crate) stall_timeout: Duration,
}

/// What a term ended with.
#[derive(Debug)]
pub(crate) enum TermEnd {
    /// Every output is committed.
    Complete,
    /// The job was complete when the term began (a previous leader finished it).
    AlreadyComplete,
}

pub(crate) struct Term {
    pub(crate) state: Arc<LeaderState>,
    pub(crate) lead: Leadership,
    pub(crate) store: Store,
    pub(crate) pointer: Option<Pointer>,
    pub(crate) cfg: TermConfig,
    /// Claims etcd knows of that no stream has attached yet: node -> (epoch, since).
    pub(crate) unattached: HashMap<usize, (i64, Instant)>,
}

impl Term {
    /// Runs the term until the job is complete or the leadership is lost.
    pub(crate) async fn run(
        mut self,
        lease: &Lease,
        mut rx: mpsc::Receiver<ControlMsg>,
        mut watch: mpsc::Receiver<WatchItem>,
    ) -> Result<TermEnd, ClusterError> {
        if self.state.table.is_complete() && self.pointer.is_some() {
            return Ok(TermEnd::AlreadyComplete);
        }
        // The first commit marks the takeover: the pointer now carries this epoch.
        self.commit().await?;
        if let Some(end) = self.complete_end() {
            return Ok(end);
        }
        let mut tick = tokio::time::interval(self.cfg.snapshot_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = lease.lost() => {
                    return Err(ClusterError::Fenced(format!(
                        "lost the leadership of job {} (epoch {}): its lease could not be renewed",
                        self.state.job, self.lead.epoch
                    )));
                }
                item = watch.recv() => match item {
                    Some(WatchItem::Events(events)) => {
                        for e in events {
                            self.on_event(e);
                        }
                    }
                    Some(WatchItem::Resync) | None => {
                        return Err(ClusterError::Fenced(
                            "the watch on the job's nodes broke; restarting the term".into(),
                        ));
                    }
                },
                msg = rx.recv() => match msg {
                    Some(m) => {
                        self.on_message(m).await?;
                        if let Some(end) = self.complete_end() {
                            return Ok(end);
                        }
                    }
                    None => return Err(ClusterError::Invariant("control channel closed".into())),
                },
                _ = tick.tick() => {
                    self.check_stalls().await?;
                    self.commit().await?;
                    self.update_gauges();
                    if let Some(end) = self.complete_end() {
                        return Ok(end);
                    }
                }
            }
        }
    }

    fn complete_end(&self) -> Option<TermEnd> {
        if self.state.table.is_complete() {
            self.pointer.as_ref().map(|_| TermEnd::Complete)
        } else {
            None
        }
    }

    fn update_gauges(&self) {
        let t = &self.state.table;
        for node in 0..t.plan().nodes {
            let label = NodeLabel { node: node as u64 };
            let live = t.array().current_state(node).unwrap_or(0);
            self.state
                .metrics
                .progress
                .get_or_create(&label)
                .set(live as i64);
            self.state
                .metrics
                .committed
                .get_or_create(&label)
                .set(t.committed(node) as i64);
        }
    }

    fn log_rollback(&self, rb: Rollback, cause: &str, who: &str) {
        let m = &self.state.metrics;
        m.failure(cause);
        m.rolled_back
            .inc_by(rb.progress.saturating_sub(rb.resume_at));
        self.state.log.say(format!(
            "node {}: {who}: {cause}; rolled back from {} to {} (its state at snapshot {})",
            rb.node,
            rb.progress,
            rb.resume_at,
            self.state
                .table
                .committed_snapshot()
                .map_or_else(|| "none".to_owned(), |s| s.to_string())
        ));
    }

    /// Ends the attached claim `(node, epoch)`: rolls the node back, fences its stream.
    fn lapse(
        &mut self,
        node: usize,
        epoch: i64,
        cause: &str,
        who: &str,
    ) -> Result<(), ClusterError> {
        let session = self.state.table.session_of(node);
        let done =
            self.state.table.committed(node) as usize == self.state.table.plan().queue_len(node);
        if let Some(rb) = self.state.table.lapse(node, epoch)? {
            if !done {
                self.log_rollback(rb, cause, who);
            }
            if let Some(s) = session {
                self.state.close(
                    s,
                    Some(build::fenced(format!(
                        "your claim on node {node} (epoch {epoch}) ended: {cause}"
                    ))),
                );
            }
        }
        Ok(())
    }

    fn on_event(&mut self, e: KeyEvent) {
        let keys = self.state.control.keys().clone();
        match e {
            KeyEvent::Put {
                key,
                create_revision,
                ..
            } => {
                if let Some((node, false)) = keys.node_of(&key) {
                    if self.state.table.owner(node) != Some(create_revision) {
                        self.unattached
                            .insert(node, (create_revision, Instant::now()));
                    }
                }
            }
            KeyEvent::Delete {
                key,
                prev_create_revision,
                ..
            } => {
                if let Some((node, false)) = keys.node_of(&key) {
                    self.unattached.remove(&node);
                    let epoch = prev_create_revision.or(self.state.table.owner(node));
                    if let Some(epoch) = epoch {
                        if let Err(err) =
                            self.lapse(node, epoch, "lease_expired", "its owner key is gone")
                        {
                            self.state.log.say(format!("node {node}: {err}"));
                        }
                    }
                }
            }
        }
    }

    async fn on_message(&mut self, m: ControlMsg) -> Result<(), ClusterError> {
        match m {
            ControlMsg::Attach {
                hello,
                responder,
                reply,
            } => {
                let (node, epoch) = (hello.node, hello.epoch);
                match self.state.table.attach(node, epoch) {
                    Ok(a) => {
                        self.unattached.remove(&node);
                        self.state.register(a.session, responder);
                        self.state.notify(
                            a.session,
                            build::assign(node, epoch, a.position, a.queue_len, self.lead.epoch),
                        );
                        self.state.log.say(format!(
                            "node {node}: {} attached (epoch {epoch}), resumes at {} of {}",
                            hello.worker, a.position, a.queue_len
                        ));
                        let _ = reply.send(Ok(a));
                    }
                    Err(AttachError::Refused(r)) => {
                        let _ = reply.send(Err(r.to_string()));
                    }
                    Err(AttachError::Broken(e)) => return Err(e),
                }
            }
            ControlMsg::QueueFinished => {
                self.commit().await?;
            }
            ControlMsg::StreamEnded {
                node,
                epoch,
                session,
                worker,
            } => {
                if self.state.table.is_current(node, session) {
                    let ended = self.state.table.committed(node) as usize
                        == self.state.table.plan().queue_len(node);
                    if !ended {
                        self.state
                            .control
                            .revoke_claim(&self.lead, node, epoch)
                            .await?;
                    }
                    self.lapse(node, epoch, "stream_ended", &worker)?;
                }
            }
        }
        Ok(())
    }

    async fn check_stalls(&mut self) -> Result<(), ClusterError> {
        for (node, epoch) in self.state.table.silent(self.cfg.stall_timeout) {
            self.state
                .control
                .revoke_claim(&self.lead, node, epoch)
                .await?;
            let who = format!("silent for {:?}", self.cfg.stall_timeout);
            self.lapse(node, epoch, "stalled", &who)?;
        }
        let now = Instant::now();
        let stale: Vec<_> = self
            .unattached
            .iter()
            .filter(|(_, (_, since))| now.duration_since(*since) >= self.cfg.stall_timeout)
            .map(|(&n, &(e, _))| (n, e))
            .collect();
        for (node, epoch) in stale {
            self.unattached.remove(&node);
            if self
                .state
                .control
                .revoke_claim(&self.lead, node, epoch)
                .await?
            {
                self.state.metrics.failure("never_attached");
                self.state.log.say(format!(
                    "node {node}: claim epoch {epoch} never reached this leader in {:?}; revoked",
                    self.cfg.stall_timeout
                ));
            }
            self.state.table.lapse(node, epoch)?;
        }
        Ok(())
    }

    /// Takes a snapshot and commits what it covers; retried at once if a claim lapsed.
    async fn commit(&mut self) -> Result<(), ClusterError> {
        for _ in 0..8 {
            let batch = self.state.table.collect()?;
            self.state.metrics.snapshots.inc();
            if batch.nodes.is_empty()
                && self
                    .pointer
                    .as_ref()
                    .is_some_and(|p| p.leader_epoch == self.lead.epoch)
            {
                return Ok(()); // Nothing new to make durable.
            }
            match self.try_commit(batch).await? {
                None => return Ok(()),
                Some(lapsed) => {
                    for (node, epoch) in lapsed {
                        self.lapse(node, epoch, "commit_refused", "its claim lapsed in etcd")?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Commits `batch`; `Some(lapsed claims)` if etcd refused it because of them.
    async fn try_commit(
        &mut self,
        batch: Batch,
    ) -> Result<Option<Vec<(usize, i64)>>, ClusterError> {
        let plan = self.state.table.plan();
        let epoch = self.lead.epoch;
        if let Some(p) = &self.pointer {
            if batch.snap.get() <= p.snapshot {
                return Err(ClusterError::Invariant(format!(
                    "snapshot {} does not follow the committed {}",
                    batch.snap, p.snapshot
                )));
            }
        }
        let outputs: Vec<(usize, &[u8])> = batch
            .nodes
            .iter()
            .flat_map(|nb| nb.subtask_outputs(plan))
            .collect();
        let mut segments = self
            .pointer
            .as_ref()
            .map(|p| p.segments.clone())
            .unwrap_or_default();
        let mut written = Vec::new();
        if !outputs.is_empty() {
            let seg = self.store.write_segment(epoch, batch.snap, outputs)?;
            written.push(seg.clone());
            segments.push(seg);
        }
        let progress_file =
            self.store
                .write_progress(epoch, self.state.table.array(), batch.snap)?;
        written.push(progress_file.clone());
        let pointer = Pointer {
            format: POINTER_FORMAT,
            leader_epoch: epoch,
            snapshot: batch.snap.get(),
            progress: batch.progress.clone(),
            progress_file,
            segments,
        };
        let owners: Vec<(usize, i64)> = batch.nodes.iter().map(|nb| (nb.node, nb.epoch)).collect();
        let done: Vec<usize> = batch
            .nodes
            .iter()
            .filter(|nb| nb.upto as usize == plan.queue_len(nb.node))
            .map(|nb| nb.node)
            .collect();
        let complete = (0..plan.nodes).all(|n| batch.progress[n] as usize == plan.queue_len(n));
        let json = pointer.to_json();
        let outcome = match self
            .state
            .control
            .commit(&self.lead, &json, &owners, &done, complete)
            .await
        {
            Ok(o) => o,
            Err(e) => {
                // etcd did not answer in time: the txn may or may not have applied, so
                // nothing here can be trusted any more. End the term (a new one re-reads
                // everything from etcd); the files stay, in case the pointer names them.
                return Err(ClusterError::Fenced(format!(
                    "the commit of snapshot {} got no answer from etcd ({e}); restarting the term",
                    batch.snap
                )));
            }
        };
        // A txn applied whose answer was lost looks refused on retry: check the pointer.
        let landed = match &outcome {
            CommitOutcome::Committed(_) => true,
            _ => self
                .state
                .control
                .pointer()
                .await?
                .is_some_and(|p| p.value == json),
        };
        if !landed {
            self.state.table.give_back(batch);
            self.remove(&written);
            return match outcome {
                CommitOutcome::Deposed => Err(ClusterError::Fenced(format!(
                    "deposed: a newer leader holds job {} (this was epoch {epoch})",
                    self.state.job
                ))),
                CommitOutcome::Lapsed(nodes) => Ok(Some(
                    owners
                        .into_iter()
                        .filter(|(n, _)| nodes.contains(n))
                        .collect(),
                )),
                CommitOutcome::Committed(_) => Ok(None),
            };
        }
        let notices: Vec<(usize, u64, bool)> = batch
            .nodes
            .iter()
            .map(|nb| {
                (
                    nb.node,
                    nb.upto,
                    nb.upto as usize == plan.queue_len(nb.node),
                )
            })
            .collect();
        let snap = batch.snap;
        self.state.table.finish(batch)?;
        self.state.metrics.commits.inc();
        if let Some(old) = self.pointer.replace(pointer) {
            if old.progress_file
                != self
                    .pointer
                    .as_ref()
                    .map_or("", |p| p.progress_file.as_str())
            {
                self.remove(&[old.progress_file]);
            }
        }
        for (node, upto, node_done) in notices {
            if let Some(s) = self.state.table.session_of(node) {
                self.state
                    .notify(s, build::committed(node, upto, node_done));
            }
        }
        let committed: u64 = (0..plan.nodes).map(|n| self.state.table.committed(n)).sum();
        self.state.log.say(format!(
            "snapshot {snap} committed (epoch {epoch}): {committed}/{} subtasks",
            plan.subtasks
        ));
        Ok(None)
    }

    fn remove(&self, names: &[String]) {
        for n in names {
            // Garbage either way: the next takeover removes what this misses.
            let _ = std::fs::remove_file(self.store.dir().join(n));
        }
    }
}
