//! A fault-tolerant job coordinator built on [`snapstate::SnapshotArray`], and the search
//! workload the `snapstate` program runs with it.
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
//! When a worker fails (it panics, its thread exits mid-queue, or its progress does not
//! move for the stall timeout), the coordinator fences it out, discards its uncommitted
//! outputs, sets the node back to its state at the last snapshot, and starts a replacement
//! there, which redoes the work after that snapshot. Subtasks are deterministic, so the
//! redone outputs are the same, and since each subtask is committed exactly once, in
//! order, the job's outputs are exactly those of a failure-free run.
//!
//! With a checkpoint directory each snapshot that commits something is also made durable
//! (the newly committed outputs first, then the progress array), so a coordinator process
//! killed at any instant resumes from its last durable snapshot.
//!
//! # The search workload
//!
//! [`search`] builds an inverted index (term to sorted document ids with counts) over a
//! corpus split into shards, one subtask per shard, and writes it atomically to an
//! output directory; [`search::IndexFile`] answers queries from it.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use snapstate_coordinator::search::{Corpus, IndexJob, InvertedIndex};
//! use snapstate_coordinator::{Coordinator, CoordinatorConfig, FaultPlan, NoopObserver};
//!
//! let corpus = Corpus::generated(200, 8, 1);
//! let config = CoordinatorConfig::new(2)?.faults(FaultPlan::new(3, 0.2).unwrap());
//! let job = IndexJob::new(corpus.clone());
//! let run = Coordinator::new(job, config).run(Arc::new(NoopObserver))?;
//! let index = InvertedIndex::merge(&corpus, run.outputs);
//! assert_eq!(index.stats().docs, 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod checksum;
mod codec;
mod commit;
mod config;
mod coordinator;
mod durable;
mod error;
mod event;
mod fault;
mod fsutil;
mod job;
mod outbox;
mod plan;
mod rng;
pub mod search;
mod stats;
mod supervisor;
mod worker;

pub use codec::DecodeError;
pub use config::CoordinatorConfig;
pub use coordinator::{Coordinator, CoordinatorHandle, JobRun};
pub use error::{CheckpointDirError, CoordinatorError};
pub use event::{Event, FailureCause, NoopObserver, Observer};
pub use fault::{FaultKind, FaultPlan, InjectedPanic};
pub use job::{Cancel, Codec, Job, JobError};
pub use stats::{InjectedCounts, RunStats};
