//! What a running subtask sees of the coordinator: heartbeats out, cancellation in.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::identity::Fingerprint;

/// The liveness and cancellation shared by one worker and whoever watches it (the
/// coordinator's loop, or in a distributed setting the thread that forwards heartbeats).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use snapstate_coordinator::{TaskContext, TaskSignal};
///
/// let signal = Arc::new(TaskSignal::default());
/// let ctx = TaskContext::new(7, 0, Arc::clone(&signal));
/// ctx.heartbeat().unwrap();
/// assert_eq!(signal.beats(), 1);
/// signal.cancel();
/// assert!(ctx.heartbeat().is_err());
/// ```
#[derive(Debug, Default)]
pub struct TaskSignal {
    beats: AtomicU64,
    cancelled: AtomicBool,
}

impl TaskSignal {
    /// Heartbeats so far; a watcher that sees this number move knows the worker is alive.
    pub fn beats(&self) -> u64 {
        // Relaxed: a liveness counter; the watcher needs only to see it change eventually,
        // nothing is published through it.
        self.beats.load(Ordering::Relaxed)
    }

    /// Records one heartbeat.
    pub fn beat(&self) {
        // Relaxed: see `beats`.
        self.beats.fetch_add(1, Ordering::Relaxed);
    }

    /// Asks the worker to stop: its next heartbeat returns [`Cancelled`].
    pub fn cancel(&self) {
        // Relaxed: a request to stop early; the fence against a replaced worker's output
        // is the generation check under the node's outbox lock, not this flag.
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        // Relaxed: see `cancel`.
        self.cancelled.load(Ordering::Relaxed)
    }
}

/// The context of one run of one subtask, passed to [`Job::run`](crate::Job::run).
///
/// It is `Sync`: a subtask that fans work out to threads may beat from any of them.
#[derive(Debug)]
pub struct TaskContext {
    subtask: usize,
    attempt: u32,
    signal: Arc<TaskSignal>,
    wants_fingerprint: bool,
    fingerprint: Mutex<Option<Fingerprint>>,
}

/// Returned by [`TaskContext::heartbeat`] once the run has been cancelled.
///
/// `?` turns it into [`JobError::Cancelled`](crate::JobError::Cancelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the subtask was cancelled")]
pub struct Cancelled;

impl TaskContext {
    /// The context of attempt `attempt` (0 for the first) of `subtask`, beating into
    /// `signal`. It asks for no fingerprint (see
    /// [`wants_fingerprint`](Self::wants_fingerprint)).
    pub fn new(subtask: usize, attempt: u32, signal: Arc<TaskSignal>) -> Self {
        TaskContext {
            subtask,
            attempt,
            signal,
            wants_fingerprint: false,
            fingerprint: Mutex::new(None),
        }
    }

    /// This context, asking the run for its inputs' fingerprint (or not): the coordinator
    /// asks when it keeps a checkpoint, which stores every output with its fingerprint.
    ///
    /// # Examples
    ///
    /// ```
    /// use snapstate_coordinator::TaskContext;
    ///
    /// assert!(!TaskContext::detached(0).wants_fingerprint());
    /// assert!(TaskContext::detached(0).with_fingerprint(true).wants_fingerprint());
    /// ```
    #[must_use]
    pub fn with_fingerprint(mut self, wanted: bool) -> Self {
        self.wants_fingerprint = wanted;
        self
    }

    /// A context no one watches: for running a subtask outside a coordinator.
    pub fn detached(subtask: usize) -> Self {
        TaskContext::new(subtask, 0, Arc::new(TaskSignal::default()))
    }

    /// The subtask being run.
    pub fn subtask(&self) -> usize {
        self.subtask
    }

    /// Which attempt at the subtask this is, 0 for the first.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Tells the coordinator the subtask is alive and making progress. Call it often
    /// (per document, per megabyte, at least a few times per stall timeout).
    ///
    /// # Errors
    ///
    /// [`Cancelled`] once the worker has been replaced or the job is stopping: return
    /// promptly, nothing this run produces will be used.
    pub fn heartbeat(&self) -> Result<(), Cancelled> {
        self.signal.beat();
        if self.signal.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// Whether this run has been cancelled, without beating.
    pub fn is_cancelled(&self) -> bool {
        self.signal.is_cancelled()
    }

    /// Whether the fingerprint of this run's inputs will be kept. A job whose
    /// [`fingerprints_in_run`](crate::Job::fingerprints_in_run) is `true` hashes what it
    /// reads and calls [`record_fingerprint`](Self::record_fingerprint) only when this is
    /// `true`; otherwise hashing is time spent for nothing.
    pub fn wants_fingerprint(&self) -> bool {
        self.wants_fingerprint
    }

    /// Reports the fingerprint of the inputs this run actually read (the same value
    /// [`Job::fingerprint`](crate::Job::fingerprint) gives for them). Stored with the
    /// output; saves the coordinator reading the inputs a second time.
    pub fn record_fingerprint(&self, fingerprint: Fingerprint) {
        *self
            .fingerprint
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(fingerprint);
    }

    /// What [`record_fingerprint`](Self::record_fingerprint) stored, if anything.
    pub fn recorded_fingerprint(&self) -> Option<Fingerprint> {
        *self
            .fingerprint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
