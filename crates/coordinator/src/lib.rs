//! A fault-tolerant job coordinator built on [`snapstate::SnapshotArray`].
//!
//! # How it works
//!
//! A [`Job`] is split into numbered subtasks, dealt round-robin to `n` worker nodes; each
//! node runs its queue in order on its own thread. Node `i`'s state in a
//! `SnapshotArray<u64>` is its progress: how many subtasks of its queue it has completed.
//! A worker stages each subtask's output in its node's outbox and then reports progress
//! with `set_state`.
//!
//! The coordinator snapshots the array every interval (and on request). An output is
//! **committed only once a snapshot covers it**: after `snap()` returns `s`, the outputs
//! at positions below `fetch_state(i, s)` move from node `i`'s outbox to the commit log.
//! Because a snapshot never changes after `snap()` returned it (the core's linearizability
//! guarantee), what a snapshot covers is a fixed prefix of each queue.
//!
//! When a worker fails (it panics, its thread exits mid-queue, or it stops making
//! progress for the stall timeout), the coordinator fences it out, discards its
//! uncommitted outputs, sets the node back to its state at the last snapshot, and starts a
//! replacement there, which redoes the work after that snapshot. Subtasks are
//! deterministic, so the redone outputs are the same, and since each subtask is committed
//! exactly once, in order, the job's outputs are exactly those of a failure-free run.
//!
//! With a checkpoint directory each snapshot that commits something is also made durable
//! (the newly committed outputs first, then the progress), every file bound to the job's
//! [`JobIdentity`] and every output to the [`Fingerprint`] of its inputs, so a
//! coordinator process killed at any instant resumes from its last durable checkpoint.
//!
//! The coordinator knows nothing of what the subtasks do; the search workload the
//! `snapstate` program runs is the `snapstate-search` crate.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use snapstate_coordinator::{
//!     Coordinator, CoordinatorConfig, FaultPlan, Job, JobError, JobIdentity, NoopObserver,
//!     TaskContext,
//! };
//!
//! /// Subtask `k` sums `0..k`.
//! struct Sums(usize);
//!
//! impl Job for Sums {
//!     type Output = u64;
//!     fn identity(&self) -> JobIdentity {
//!         JobIdentity::new("sums").with("subtasks", self.0)
//!     }
//!     fn subtasks(&self) -> usize {
//!         self.0
//!     }
//!     fn run(&self, k: usize, ctx: &TaskContext) -> Result<u64, JobError> {
//!         let mut sum = 0;
//!         for i in 0..k as u64 {
//!             ctx.heartbeat()?;
//!             sum += i;
//!         }
//!         Ok(sum)
//!     }
//! }
//!
//! let config = CoordinatorConfig::new(2)?.faults(FaultPlan::new(3, 0.2).unwrap());
//! let run = Coordinator::new(Sums(50), config).run(Arc::new(NoopObserver))?;
//! assert_eq!(run.outputs[10], 45);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod atomic_file;
mod commit;
mod config;
mod context;
mod coordinator;
mod durable;
mod error;
mod event;
mod fault;
mod identity;
mod job;
mod outbox;
mod plan;
mod resume;
mod stats;
mod supervisor;
mod worker;

pub use atomic_file::{remove_temp_files, sync_dir, write_atomic};
pub use config::CoordinatorConfig;
pub use context::{Cancelled, TaskContext, TaskSignal};
pub use coordinator::{Coordinator, CoordinatorHandle, JobRun};
pub use durable::CheckpointDir;
pub use error::{CheckpointDirError, CoordinatorError};
pub use event::{Event, FailureCause, NoopObserver, Observer};
pub use fault::{FaultKind, FaultPlan, InjectedPanic};
pub use identity::{Digest, Fingerprint, Fingerprinter, JobIdentity};
pub use job::{Job, JobError};
pub use stats::{InjectedCounts, RunStats};
