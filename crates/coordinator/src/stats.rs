//! What a run did, counted.

use std::time::Duration;

use serde::Serialize;

/// Counts of one run, for the summary.
///
/// `subtask_runs` counts every completed call of [`Job::run`](crate::Job::run), including
/// runs whose output was thrown away; `subtask_runs - (subtasks - restored)` of them were
/// redone work.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Worker nodes.
    pub workers: usize,
    /// Subtasks in the job.
    pub subtasks: usize,
    /// Subtasks already committed in the checkpoint directory when the run started (and
    /// kept: their inputs had not changed).
    pub restored: usize,
    /// The durable checkpoint a resumed run restarted from.
    pub resumed_from: Option<u64>,
    /// Restored subtasks whose inputs had changed since their output was committed
    /// (each rolled its node back to just before it).
    pub inputs_changed: usize,
    /// Restored outputs thrown away by those rollbacks (the changed subtasks and what
    /// came after them in their nodes' queues).
    pub discarded_on_resume: usize,
    /// Completed runs of a subtask, wasted ones included.
    pub subtask_runs: u64,
    /// Completed subtasks thrown away because a failure struck before a snapshot covered them.
    pub rolled_back: u64,
    /// Faults injected, by kind: panics, kills, stalls.
    pub injected: InjectedCounts,
    /// Worker failures detected (injected or not).
    pub failures: u64,
    /// Replacement workers started.
    pub recoveries: u64,
    /// Snapshots taken by this run.
    pub snapshots: u64,
    /// Snapshots written to the checkpoint directory.
    pub checkpoints_written: u64,
    /// Wall time of the coordinated part (from opening the checkpoint directory to the
    /// last commit), not the merge and write that follow.
    #[serde(rename = "coordinator_secs", serialize_with = "ser_secs")]
    pub elapsed: Duration,
}

impl RunStats {
    /// Subtask runs beyond the one each remaining subtask needed.
    ///
    /// # Examples
    ///
    /// ```
    /// let stats = snapstate_coordinator::RunStats {
    ///     subtasks: 10,
    ///     restored: 2,
    ///     subtask_runs: 11,
    ///     ..Default::default()
    /// };
    /// assert_eq!(stats.redone_runs(), 3);
    /// ```
    pub fn redone_runs(&self) -> u64 {
        self.subtask_runs
            .saturating_sub((self.subtasks - self.restored) as u64)
    }
}

/// Injected faults by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InjectedCounts {
    /// Injected panics.
    pub panic: u64,
    /// Injected silent exits.
    pub kill: u64,
    /// Injected stalls.
    pub stall: u64,
}

impl InjectedCounts {
    /// All injected faults.
    pub fn total(&self) -> u64 {
        self.panic + self.kill + self.stall
    }
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
