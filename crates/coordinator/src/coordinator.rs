//! [`Coordinator`]: runs a [`Job`] on worker nodes and survives their failures.

use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use snapstate::SnapshotArray;

use crate::commit::CommitLog;
use crate::config::{Checkpoint, CoordinatorConfig};
use crate::durable::{CheckpointDir, CheckpointStore};
use crate::error::CoordinatorError;
use crate::event::{Event, Observer};
use crate::job::Job;
use crate::outbox::Outbox;
use crate::plan::Plan;
use crate::resume::check_inputs;
use crate::stats::RunStats;
use crate::supervisor::Supervisor;
use crate::worker::{Msg, Shared};

/// Runs a [`Job`]: deals its subtasks to worker nodes, tracks their progress in a
/// [`SnapshotArray`], snapshots it periodically, commits the outputs each snapshot
/// covers, and replaces failed workers, which resume from their node's state at the last
/// snapshot.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use snapstate_coordinator::{
///     Coordinator, CoordinatorConfig, FaultPlan, Job, JobError, JobIdentity, NoopObserver,
///     TaskContext,
/// };
///
/// struct Squares;
/// impl Job for Squares {
///     type Output = u64;
///     fn identity(&self) -> JobIdentity { JobIdentity::new("squares") }
///     fn subtasks(&self) -> usize { 20 }
///     fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> { Ok((k * k) as u64) }
/// }
///
/// // A quarter of all subtask runs fail (panics, silent exits, stalls); the output does not change.
/// let config = CoordinatorConfig::new(3)?
///     .faults(FaultPlan::new(1, 0.25).unwrap())
///     .stall_timeout(std::time::Duration::from_millis(50));
/// let run = Coordinator::new(Squares, config).run(Arc::new(NoopObserver))?;
/// assert_eq!(run.outputs, (0..20).map(|k| k * k).collect::<Vec<u64>>());
/// # Ok::<(), snapstate_coordinator::CoordinatorError>(())
/// ```
#[derive(Debug)]
pub struct Coordinator<J> {
    job: Arc<J>,
    config: CoordinatorConfig,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
}

/// Asks a running [`Coordinator`] for things from another thread.
///
/// # Examples
///
/// ```
/// # use snapstate_coordinator::{Coordinator, CoordinatorConfig, Job, JobError, JobIdentity, TaskContext};
/// # struct Nop;
/// # impl Job for Nop { type Output = u64; fn subtasks(&self) -> usize { 1 }
/// #     fn identity(&self) -> JobIdentity { JobIdentity::new("nop") }
/// #     fn run(&self, _: usize, _: &TaskContext) -> Result<u64, JobError> { Ok(0) } }
/// let coordinator = Coordinator::new(Nop, CoordinatorConfig::new(1)?);
/// let handle = coordinator.handle();
/// handle.request_snapshot(); // taken at the next turn of the coordinator's loop
/// # Ok::<(), snapstate_coordinator::CoordinatorError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CoordinatorHandle(Sender<Msg>);

impl CoordinatorHandle {
    /// Asks for a snapshot (and commit, and durable checkpoint) now rather than at the next
    /// interval. Does nothing once the run has ended.
    pub fn request_snapshot(&self) {
        // Sending fails only when the coordinator has finished; nothing to snapshot then.
        let _ = self.0.send(Msg::Snapshot);
    }

    /// Asks the run to stop cleanly (on Ctrl-C, say): it takes one last snapshot (made
    /// durable with a checkpoint directory, so a rerun resumes from it), stops its
    /// workers, and [`run`](Coordinator::run) returns [`CoordinatorError::Stopped`].
    /// Does nothing once the run has ended. Safe to call from a signal-handling thread.
    pub fn stop(&self) {
        // As above: a finished run has nothing to stop.
        let _ = self.0.send(Msg::Stop);
    }
}

/// The result of a completed run.
#[derive(Debug)]
pub struct JobRun<O> {
    /// Every subtask's output, in subtask order: exactly those of a failure-free run.
    pub outputs: Vec<O>,
    /// What the run did.
    pub stats: RunStats,
}

impl<J: Job> Coordinator<J> {
    /// A coordinator for `job` with `config`.
    pub fn new(job: J, config: CoordinatorConfig) -> Self {
        let (tx, rx) = mpsc::channel();
        Coordinator {
            job: Arc::new(job),
            config,
            tx,
            rx,
        }
    }

    /// A handle to ask for snapshots while [`run`](Self::run) is going.
    pub fn handle(&self) -> CoordinatorHandle {
        CoordinatorHandle(self.tx.clone())
    }

    /// Runs the job to completion, reporting to `observer`.
    ///
    /// With a checkpoint directory, resumes from what it holds, and persists every
    /// snapshot that commits something, bound to the job's [`identity`](Job::identity).
    ///
    /// # Errors
    ///
    /// - [`CoordinatorError::Checkpoint`]: the checkpoint directory is unusable (foreign,
    ///   corrupt, another job's) or cannot be written.
    /// - [`CoordinatorError::Job`]: a subtask returned a [`JobError`](crate::JobError).
    /// - [`CoordinatorError::GaveUp`]: one subtask failed `max_failures` times.
    pub fn run(self, observer: Arc<dyn Observer>) -> Result<JobRun<J::Output>, CoordinatorError> {
        let started = Instant::now();
        let config = self.config;
        let plan = Plan {
            nodes: config.workers,
            subtasks: self.job.subtasks(),
        };
        let locked = match &config.checkpoint {
            Some(Checkpoint::Path(path)) => Some(CheckpointDir::open(path)?),
            Some(Checkpoint::Open(dir)) => Some(dir.clone()),
            None => None,
        };
        let mut store = match locked {
            Some(dir) => Some(CheckpointStore::open(dir, &self.job.identity(), plan)?),
            None => None,
        };
        let resumed = match &mut store {
            Some(store) => store.resume::<J::Output>()?,
            None => None,
        };
        let mut commits = CommitLog::new(plan);
        let mut stats = RunStats {
            workers: plan.nodes,
            subtasks: plan.subtasks,
            ..RunStats::default()
        };
        let array = SnapshotArray::new(plan.nodes);
        let mut last_snapshot = None;
        let mut resumed_from = None;
        let mut inputs_changed = None;
        if let Some(r) = resumed {
            let fingerprints: Vec<_> = r.outputs.iter().map(|&(k, f, _)| (k, f)).collect();
            let committed: Vec<usize> = r.nodes.iter().map(|&n| n as usize).collect();
            let check = check_inputs(&*self.job, plan, &fingerprints, &committed, plan.nodes);
            let mut discarded = 0;
            for (subtask, fingerprint, output) in r.outputs {
                let (node, pos) = (subtask % plan.nodes, subtask / plan.nodes);
                if pos < check.keep[node] {
                    commits.commit(node, pos, output, fingerprint)?;
                } else {
                    discarded += 1;
                }
            }
            for node in 0..plan.nodes {
                if commits.progress(node) != check.keep[node] {
                    return Err(CoordinatorError::Invariant(format!(
                        "node {node}: resuming at {}, {} outputs restored",
                        check.keep[node],
                        commits.progress(node)
                    )));
                }
                array.set_state(node, commits.progress(node) as u64)?;
            }
            // The restored progress is what the first snapshot of this run covers.
            last_snapshot = Some(array.snap());
            stats.restored = commits.committed();
            stats.resumed_from = Some(r.seq);
            stats.inputs_changed = check.changed.len();
            stats.discarded_on_resume = discarded;
            resumed_from = Some(r.seq);
            if !check.changed.is_empty() {
                inputs_changed = Some(Event::InputsChanged {
                    subtasks: check.changed,
                    discarded,
                });
            }
        }
        let shared = Arc::new(Shared {
            job: self.job,
            plan,
            array,
            outboxes: (0..plan.nodes).map(|_| Outbox::new()).collect(),
            attempts: (0..plan.subtasks).map(|_| AtomicU32::new(0)).collect(),
            faults: config.faults.schedule(plan.subtasks),
            observer,
            fingerprints: store.is_some(),
            runs: AtomicU64::new(0),
            injected: Default::default(),
        });
        if let Some(e) = inputs_changed {
            shared.observer.event(&e);
        }
        shared.observer.event(&Event::Started {
            queue_lens: (0..plan.nodes).map(|n| plan.queue_len(n)).collect(),
            committed: (0..plan.nodes).map(|n| commits.progress(n)).collect(),
            resumed_from,
        });
        let supervisor = Supervisor::new(shared, &config, store, commits, last_snapshot, self.tx);
        let outputs = supervisor.run(self.rx, &mut stats)?;
        stats.elapsed = started.elapsed();
        Ok(JobRun { outputs, stats })
    }
}
