//! How a job is run: workers, snapshot interval, failure detection, faults, durability.

use std::path::PathBuf;
use std::time::Duration;

use crate::durable::CheckpointDir;
use crate::error::CoordinatorError;
use crate::fault::FaultPlan;

/// Settings of one coordinated run.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use snapstate_coordinator::{CoordinatorConfig, FaultPlan};
///
/// let config = CoordinatorConfig::new(4)?
///     .snapshot_interval(Duration::from_millis(50))
///     .faults(FaultPlan::new(7, 0.1).unwrap());
/// assert_eq!(config.workers(), 4);
/// assert!(CoordinatorConfig::new(0).is_err());
/// # Ok::<(), snapstate_coordinator::CoordinatorError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CoordinatorConfig {
    pub(crate) workers: usize,
    pub(crate) snapshot_interval: Duration,
    pub(crate) stall_timeout: Duration,
    pub(crate) max_failures: u32,
    pub(crate) faults: FaultPlan,
    pub(crate) checkpoint: Option<Checkpoint>,
}

/// Where checkpoints go: a path opened when the run starts, or a directory opened (and
/// locked) already.
#[derive(Clone, Debug)]
pub(crate) enum Checkpoint {
    Path(PathBuf),
    Open(CheckpointDir),
}

impl CoordinatorConfig {
    /// The most worker nodes a run may have.
    pub const MAX_WORKERS: usize = 1024;

    /// `workers` worker nodes; a snapshot every 100 ms, a stall timeout of 1 s, 5 failures
    /// of one subtask before giving up, no injected faults, no checkpoint directory.
    ///
    /// # Errors
    ///
    /// [`CoordinatorError::Config`] if `workers` is 0 or above [`Self::MAX_WORKERS`].
    pub fn new(workers: usize) -> Result<Self, CoordinatorError> {
        if workers == 0 || workers > Self::MAX_WORKERS {
            return Err(CoordinatorError::Config(format!(
                "workers must be between 1 and {} (got {workers})",
                Self::MAX_WORKERS
            )));
        }
        Ok(CoordinatorConfig {
            workers,
            snapshot_interval: Duration::from_millis(100),
            stall_timeout: Duration::from_secs(1),
            max_failures: 5,
            faults: FaultPlan::none(),
            checkpoint: None,
        })
    }

    /// The number of worker nodes.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// How often progress is snapshotted (and, with a checkpoint directory, persisted).
    #[must_use]
    pub fn snapshot_interval(mut self, every: Duration) -> Self {
        self.snapshot_interval = every.max(Duration::from_millis(1));
        self
    }

    /// How long a worker may go without a heartbeat (or a completed subtask) before it is
    /// declared stalled and replaced. Subtasks beat through
    /// [`TaskContext::heartbeat`](crate::TaskContext::heartbeat), so this bounds the time
    /// between two beats, not the length of a subtask.
    #[must_use]
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many failures of one subtask the job survives before it stops with
    /// [`CoordinatorError::GaveUp`]; at least 1.
    #[must_use]
    pub fn max_failures(mut self, n: u32) -> Self {
        self.max_failures = n.max(1);
        self
    }

    /// Faults to inject.
    #[must_use]
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// Persist progress snapshots and committed outputs in `dir`, and resume from what is
    /// there. Every file is bound to the job's [`identity`](crate::Job::identity): a
    /// directory written by a different job is refused.
    #[must_use]
    ///
    /// The directory is opened and locked when the run starts; use
    /// [`checkpoint`](Self::checkpoint) to open it (and find out whether it is usable)
    /// before.
    pub fn checkpoint_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(Checkpoint::Path(dir.into()));
        self
    }

    /// Like [`checkpoint_dir`](Self::checkpoint_dir), with a directory already opened and
    /// locked by [`CheckpointDir::open`].
    #[must_use]
    pub fn checkpoint(mut self, dir: CheckpointDir) -> Self {
        self.checkpoint = Some(Checkpoint::Open(dir));
        self
    }
}
