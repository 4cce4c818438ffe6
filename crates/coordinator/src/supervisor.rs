//! The coordinator's loop: snapshot and commit, detect failed workers, replace them.
//!
//! One thread runs it, so snapshots, commits and recoveries never race each other; the
//! workers only ever stage outputs and raise their own node's progress (see `outbox`).
//!
//! Recovery of node `i` after a failure: fence the old worker out (bump the outbox
//! generation), drop its staged outputs, set the node back to its state at the last
//! snapshot, and start a replacement there. Recovery happens in the same turn as the
//! detection, before any later snapshot, so the failed worker's uncommitted work is lost
//! with it, as it would be with a machine that died.

use std::any::Any;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use snapstate::SnapshotId;

use crate::commit::CommitLog;
use crate::config::CoordinatorConfig;
use crate::context::TaskSignal;
use crate::durable::{CheckpointStore, EntryRef};
use crate::error::CoordinatorError;
use crate::event::{Event, FailureCause};
use crate::fault::InjectedPanic;
use crate::job::Job;
use crate::stats::{InjectedCounts, RunStats};
use crate::worker::{Exit, Msg, Shared, Worker};

/// How often the loop looks at the workers when nothing wakes it.
const POLL: Duration = Duration::from_millis(10);

/// One node as the supervisor sees it.
#[derive(Debug)]
struct NodeRun {
    generation: u64,
    handle: Option<JoinHandle<Exit>>,
    signal: Arc<TaskSignal>,
    done: bool,
    /// The worker's progress and heartbeat count when last looked at, and when either
    /// last moved.
    last_progress: u64,
    last_beats: u64,
    last_change: Instant,
}

pub(crate) struct Supervisor<J: Job> {
    shared: Arc<Shared<J>>,
    snapshot_interval: Duration,
    stall_timeout: Duration,
    max_failures: u32,
    store: Option<CheckpointStore>,
    commits: CommitLog<J::Output>,
    last_snapshot: Option<SnapshotId>,
    tx: Sender<Msg>,
    nodes: Vec<NodeRun>,
    /// Replaced workers that may still be running (stalled ones).
    zombies: Vec<JoinHandle<Exit>>,
    /// Failures per subtask.
    failures: Vec<u32>,
}

impl<J: Job> Supervisor<J> {
    pub(crate) fn new(
        shared: Arc<Shared<J>>,
        config: &CoordinatorConfig,
        store: Option<CheckpointStore>,
        commits: CommitLog<J::Output>,
        last_snapshot: Option<SnapshotId>,
        tx: Sender<Msg>,
    ) -> Self {
        let subtasks = shared.plan.subtasks;
        Supervisor {
            shared,
            snapshot_interval: config.snapshot_interval,
            stall_timeout: config.stall_timeout,
            max_failures: config.max_failures,
            store,
            commits,
            last_snapshot,
            tx,
            nodes: Vec::new(),
            zombies: Vec::new(),
            failures: vec![0; subtasks],
        }
    }

    /// Runs the job to the end and returns every output in subtask order.
    pub(crate) fn run(
        mut self,
        rx: Receiver<Msg>,
        stats: &mut RunStats,
    ) -> Result<Vec<J::Output>, CoordinatorError> {
        let result = self.drive(&rx, stats);
        self.shut_down();
        let sh = &self.shared;
        // Relaxed: statistics, read after the workers were joined (or left fenced, whose
        // late increments do not matter).
        stats.subtask_runs = sh.runs.load(std::sync::atomic::Ordering::Relaxed);
        let [panic, kill, stall] = sh
            .injected
            .each_ref()
            .map(|c| c.load(std::sync::atomic::Ordering::Relaxed));
        stats.injected = InjectedCounts { panic, kill, stall };
        result?;
        self.commits.into_outputs()
    }

    fn drive(&mut self, rx: &Receiver<Msg>, stats: &mut RunStats) -> Result<(), CoordinatorError> {
        for node in 0..self.shared.plan.nodes {
            let start = self.commits.progress(node);
            self.shared.array.set_state(node, start as u64)?;
            let run = self.start_worker(node, 0, start)?;
            self.nodes.push(run);
        }
        let mut next_snapshot = Instant::now() + self.snapshot_interval;
        loop {
            let wait = next_snapshot
                .saturating_duration_since(Instant::now())
                .min(POLL);
            let (mut requested, mut stop) = (false, false);
            let mut note = |m: Msg| match m {
                Msg::Snapshot => requested = true,
                Msg::Stop => stop = true,
                Msg::Exited => {}
            };
            match rx.recv_timeout(wait) {
                Ok(m) => note(m),
                Err(RecvTimeoutError::Timeout) => {}
                // The supervisor holds a sender itself, so this cannot happen.
                Err(RecvTimeoutError::Disconnected) => {}
            }
            rx.try_iter().for_each(&mut note);
            if stop {
                // Keep what is done: one last snapshot (durable with a checkpoint
                // directory), then stop.
                self.snapshot_and_commit(stats)?;
                return Err(CoordinatorError::Stopped {
                    committed: self.commits.committed(),
                    subtasks: self.shared.plan.subtasks,
                });
            }

            self.reap(stats)?;
            self.find_stalls(stats)?;
            let all_done = self.nodes.iter().all(|n| n.done);
            if requested || all_done || Instant::now() >= next_snapshot {
                self.snapshot_and_commit(stats)?;
                // Keep the cadence; if the loop fell behind, start afresh from now.
                next_snapshot += self.snapshot_interval;
                let now = Instant::now();
                if next_snapshot <= now {
                    next_snapshot = now + self.snapshot_interval;
                }
            }
            if all_done && self.commits.is_complete() {
                return Ok(());
            }
        }
    }

    fn start_worker(
        &self,
        node: usize,
        generation: u64,
        start: usize,
    ) -> Result<NodeRun, CoordinatorError> {
        let signal = Arc::new(TaskSignal::default());
        let done = start >= self.shared.plan.queue_len(node);
        let handle = if done {
            None
        } else {
            let worker = Worker {
                shared: Arc::clone(&self.shared),
                node,
                generation,
                start,
                signal: Arc::clone(&signal),
                wake: self.tx.clone(),
            };
            Some(worker.spawn().map_err(CoordinatorError::Spawn)?)
        };
        if done {
            self.shared.observer.event(&Event::NodeFinished { node });
        }
        Ok(NodeRun {
            generation,
            handle,
            signal,
            done,
            last_progress: start as u64,
            last_beats: 0,
            last_change: Instant::now(),
        })
    }

    /// Joins workers that have ended and acts on how they ended.
    fn reap(&mut self, stats: &mut RunStats) -> Result<(), CoordinatorError> {
        for node in 0..self.nodes.len() {
            let finished = self.nodes[node]
                .handle
                .as_ref()
                .is_some_and(JoinHandle::is_finished);
            if !finished {
                continue;
            }
            let Some(handle) = self.nodes[node].handle.take() else {
                continue;
            };
            match handle.join() {
                Ok(Exit::Done) => {
                    self.nodes[node].done = true;
                    self.shared.observer.event(&Event::NodeFinished { node });
                }
                Ok(Exit::JobFailed { subtask, error }) => {
                    return Err(CoordinatorError::Job {
                        subtask,
                        source: error,
                    })
                }
                // A current-generation worker is only fenced by a recovery, which replaces
                // its handle first; treat anything else as a vanished worker.
                Ok(Exit::Fenced | Exit::Vanished) => {
                    self.recover(node, FailureCause::Exited, stats)?
                }
                Err(payload) => self.recover(
                    node,
                    FailureCause::Panicked(panic_message(&*payload)),
                    stats,
                )?,
            }
        }
        Ok(())
    }

    /// Declares stalled the workers that have neither made progress nor sent a heartbeat
    /// for the stall timeout. A slow subtask that keeps beating is never stalled.
    fn find_stalls(&mut self, stats: &mut RunStats) -> Result<(), CoordinatorError> {
        let now = Instant::now();
        for node in 0..self.nodes.len() {
            let ended = self.nodes[node]
                .handle
                .as_ref()
                .is_none_or(JoinHandle::is_finished);
            if self.nodes[node].done || ended {
                // An ended worker is classified by `reap` (panic or exit), not as a stall.
                continue;
            }
            let progress = self.shared.array.current_state(node)?;
            let run = &mut self.nodes[node];
            let beats = run.signal.beats();
            if progress != run.last_progress || beats != run.last_beats {
                run.last_progress = progress;
                run.last_beats = beats;
                run.last_change = now;
            } else if now.duration_since(run.last_change) >= self.stall_timeout {
                let idle = now.duration_since(run.last_change);
                self.recover(node, FailureCause::Stalled(idle), stats)?;
            }
        }
        Ok(())
    }

    /// Replaces node `node`'s failed worker with one resuming from the last snapshot.
    fn recover(
        &mut self,
        node: usize,
        cause: FailureCause,
        stats: &mut RunStats,
    ) -> Result<(), CoordinatorError> {
        stats.failures += 1;
        let sh = Arc::clone(&self.shared);
        let resume_at = match self.last_snapshot {
            Some(s) => sh.array.fetch_state(node, s)?,
            None => 0,
        };
        if resume_at as usize != self.commits.progress(node) {
            return Err(CoordinatorError::Invariant(format!(
                "node {node}: snapshot says {resume_at} committed, the commit log {}",
                self.commits.progress(node)
            )));
        }
        let old = &mut self.nodes[node];
        let generation = old.generation + 1;
        let (progress, injected) = {
            let mut outbox = sh.outboxes[node].lock();
            outbox.generation = generation;
            outbox.pending.clear();
            let progress = sh.array.current_state(node)?;
            sh.array.set_state(node, resume_at)?;
            (progress, outbox.injected.take())
        };
        old.signal.cancel();
        if let Some(h) = old.handle.take() {
            self.zombies.push(h);
        }
        let queue_len = sh.plan.queue_len(node);
        if (progress as usize) < queue_len {
            let subtask = sh.plan.subtask(node, progress as usize);
            self.failures[subtask] += 1;
            if self.failures[subtask] >= self.max_failures {
                return Err(CoordinatorError::GaveUp {
                    subtask,
                    failures: self.failures[subtask],
                    last: cause,
                });
            }
        }
        sh.observer.event(&Event::Failure {
            node,
            cause,
            injected,
            progress: progress as usize,
        });
        let rolled_back = progress.saturating_sub(resume_at);
        stats.rolled_back += rolled_back;
        self.nodes[node] = self.start_worker(node, generation, resume_at as usize)?;
        stats.recoveries += 1;
        sh.observer.event(&Event::Recovered {
            node,
            snapshot: self.last_snapshot,
            resume_at: resume_at as usize,
            rolled_back: rolled_back as usize,
        });
        Ok(())
    }

    /// Takes a snapshot, commits the staged outputs it covers, and persists it.
    fn snapshot_and_commit(&mut self, stats: &mut RunStats) -> Result<(), CoordinatorError> {
        let sh = Arc::clone(&self.shared);
        let snap = sh.array.snap();
        stats.snapshots += 1;
        let covered = sh.array.fetch_all(snap)?;
        let mut newly = Vec::new();
        for (node, &upto) in covered.iter().enumerate() {
            let upto = upto as usize;
            let ready: Vec<_> = {
                let mut outbox = sh.outboxes[node].lock();
                let n = outbox.pending.partition_point(|s| s.pos < upto);
                outbox.pending.drain(..n).collect()
            };
            for staged in ready {
                newly.push(sh.plan.subtask(node, staged.pos));
                self.commits
                    .commit(node, staged.pos, staged.output, staged.fingerprint)?;
            }
            if self.commits.progress(node) != upto {
                return Err(CoordinatorError::Invariant(format!(
                    "node {node}: snapshot {snap} covers {upto} subtasks, {} committed",
                    self.commits.progress(node)
                )));
            }
        }
        self.last_snapshot = Some(snap);
        let mut durable = false;
        if let Some(store) = &mut self.store {
            if !newly.is_empty() || stats.checkpoints_written == 0 {
                let mut entries = Vec::with_capacity(newly.len());
                for &subtask in &newly {
                    let (output, fingerprint) = self.commits.get(subtask).ok_or_else(|| {
                        CoordinatorError::Invariant(format!("subtask {subtask} vanished"))
                    })?;
                    entries.push(EntryRef {
                        subtask: subtask as u64,
                        fingerprint,
                        output,
                    });
                }
                store.persist(&covered, &entries)?;
                stats.checkpoints_written += 1;
                durable = true;
            }
        }
        sh.observer.event(&Event::Snapshot {
            id: snap,
            committed: self.commits.committed(),
            durable,
        });
        Ok(())
    }

    /// Stops every worker still running and waits briefly for them.
    fn shut_down(&mut self) {
        for run in &self.nodes {
            run.signal.cancel();
        }
        let mut handles: Vec<_> = self
            .nodes
            .iter_mut()
            .filter_map(|n| n.handle.take())
            .collect();
        handles.append(&mut self.zombies);
        // A fenced worker notices within one subtask; one stuck in user code for good is
        // left detached rather than hanging the run.
        let deadline = Instant::now() + Duration::from_secs(2);
        for h in handles {
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
    }
}

impl<J: Job> std::fmt::Debug for Supervisor<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("nodes", &self.nodes)
            .field("last_snapshot", &self.last_snapshot)
            .finish_non_exhaustive()
    }
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(p) = payload.downcast_ref::<InjectedPanic>() {
        format!("injected fault in subtask {}", p.subtask)
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
