//! What a run reports as it goes, for progress bars and logs.

use std::fmt;
use std::time::Duration;

use snapstate::SnapshotId;

use crate::fault::FaultKind;

/// Why a worker was declared failed.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::FailureCause;
/// assert_eq!(FailureCause::Exited.to_string(), "exited without finishing its queue");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureCause {
    /// The worker panicked, with this message.
    Panicked(String),
    /// The worker thread ended before its queue was done.
    Exited,
    /// The worker sent no heartbeat and completed no subtask for this long.
    Stalled(Duration),
}

impl fmt::Display for FailureCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureCause::Panicked(msg) => write!(f, "panicked: {msg}"),
            FailureCause::Exited => f.write_str("exited without finishing its queue"),
            FailureCause::Stalled(d) => write!(f, "sent no heartbeat for {:.1} s", d.as_secs_f64()),
        }
    }
}

/// One thing that happened during a run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The run started: each node's queue length and how much of it is already committed
    /// (non-zero only when resuming from a checkpoint directory).
    Started {
        /// Queue length per node.
        queue_lens: Vec<usize>,
        /// Committed progress per node.
        committed: Vec<usize>,
        /// The durable checkpoint a resumed run restarts from.
        resumed_from: Option<u64>,
    },
    /// A resumed run found inputs changed since their outputs were committed; those
    /// subtasks, and what follows them in their nodes' queues, run again. Sent just
    /// before [`Event::Started`], whose counts already leave them out.
    InputsChanged {
        /// The subtasks whose inputs changed, ascending.
        subtasks: Vec<usize>,
        /// Restored outputs discarded (the changed ones and those after them).
        discarded: usize,
    },
    /// A worker completed the subtask at position `done - 1` of its queue.
    Progress {
        /// The node.
        node: usize,
        /// Its progress: subtasks completed.
        done: usize,
    },
    /// A snapshot was taken and the outputs it covers were committed.
    Snapshot {
        /// Its id.
        id: SnapshotId,
        /// Subtasks committed in all, after this snapshot.
        committed: usize,
        /// Whether it was also written to the checkpoint directory.
        durable: bool,
    },
    /// A worker was declared failed.
    Failure {
        /// The node.
        node: usize,
        /// Why.
        cause: FailureCause,
        /// The fault injected into it, if it was an injected one.
        injected: Option<FaultKind>,
        /// Its progress when it failed.
        progress: usize,
    },
    /// A replacement worker took over a failed node.
    Recovered {
        /// The node.
        node: usize,
        /// The snapshot its progress was restored from (`None`: none taken yet, so 0).
        snapshot: Option<SnapshotId>,
        /// Where the replacement starts: the node's progress at that snapshot.
        resume_at: usize,
        /// Completed subtasks thrown away because no snapshot covered them.
        rolled_back: usize,
    },
    /// A node completed its whole queue.
    NodeFinished {
        /// The node.
        node: usize,
    },
}

/// Receives a run's [`Event`]s, from the coordinator and from worker threads.
///
/// # Examples
///
/// ```
/// use std::sync::Mutex;
/// use snapstate_coordinator::{Event, Observer};
///
/// #[derive(Debug, Default)]
/// struct Count(Mutex<usize>);
/// impl Observer for Count {
///     fn event(&self, _e: &Event) {
///         *self.0.lock().unwrap() += 1;
///     }
/// }
/// ```
pub trait Observer: Send + Sync {
    /// Called once per event; keep it quick, workers wait for it.
    fn event(&self, event: &Event);
}

/// An [`Observer`] that ignores everything.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::{Event, NoopObserver, Observer};
/// NoopObserver.event(&Event::NodeFinished { node: 0 });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn event(&self, _event: &Event) {}
}
