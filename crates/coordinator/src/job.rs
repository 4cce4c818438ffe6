//! What the coordinator runs: a [`Job`] of numbered subtasks, each with an output.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::context::{Cancelled, TaskContext};
use crate::identity::{Fingerprint, JobIdentity};

/// A job the coordinator can run: `subtasks()` numbered subtasks, each producing one
/// [`Output`](Job::Output).
///
/// `run` must be deterministic: the same subtask over the same inputs gives the same
/// output every time it is run. That is what lets the coordinator redo work after a
/// failure and still produce exactly the output of a failure-free run. `run` may panic; a
/// panic is a worker failure and is recovered like any other.
///
/// Two more methods tie durable checkpoints to what they were computed from:
/// [`identity`](Job::identity) names the job (every checkpoint file is bound to it) and
/// [`fingerprint`](Job::fingerprint) hashes the inputs one subtask reads (a resumed run
/// redoes a subtask whose fingerprint changed).
///
/// The trait is object safe for a given output type (`dyn Job<Output = O>`), so a worker
/// process can hold whichever job its job spec names.
///
/// # Examples
///
/// A job whose subtask `k` outputs `k * k`:
///
/// ```
/// use snapstate_coordinator::{Job, JobError, JobIdentity, TaskContext};
///
/// struct Squares(usize);
///
/// impl Job for Squares {
///     type Output = u64;
///     fn identity(&self) -> JobIdentity {
///         JobIdentity::new("squares").with("subtasks", self.0)
///     }
///     fn subtasks(&self) -> usize {
///         self.0
///     }
///     fn run(&self, subtask: usize, ctx: &TaskContext) -> Result<u64, JobError> {
///         ctx.heartbeat()?; // alive, and not replaced
///         Ok((subtask * subtask) as u64)
///     }
/// }
/// assert_eq!(Squares(4).run(3, &TaskContext::detached(3)).unwrap(), 9);
/// ```
pub trait Job: Send + Sync + 'static {
    /// What one subtask produces; stored in checkpoints with postcard.
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// What this job is: its kind and every parameter that changes what its subtasks
    /// mean. A checkpoint directory written under another identity is refused.
    fn identity(&self) -> JobIdentity;

    /// The number of subtasks, numbered `0..subtasks()`.
    fn subtasks(&self) -> usize;

    /// A content hash of exactly the inputs subtask `subtask` reads (file bytes, not
    /// names or sizes). A committed output is stored with the fingerprint of what it
    /// was built from, and a resumed run redoes the subtasks whose fingerprint changed.
    ///
    /// The default, [`Fingerprint::NO_INPUT`], is right for a subtask that reads nothing
    /// but its index and the job's parameters (already in the identity).
    ///
    /// # Errors
    ///
    /// A [`JobError`] if the inputs cannot be read.
    fn fingerprint(&self, subtask: usize) -> Result<Fingerprint, JobError> {
        let _ = subtask;
        Ok(Fingerprint::NO_INPUT)
    }

    /// Whether [`run`](Job::run) reports its inputs' fingerprint with
    /// [`TaskContext::record_fingerprint`], computed from the very bytes it read. Then the
    /// coordinator does not call [`fingerprint`](Job::fingerprint) before each run (which
    /// would read the inputs twice). Such a job hashes only when
    /// [`TaskContext::wants_fingerprint`] says the fingerprint will be kept. Default:
    /// `false`.
    fn fingerprints_in_run(&self) -> bool {
        false
    }

    /// Runs subtask `subtask` and returns its output.
    ///
    /// A long subtask calls [`TaskContext::heartbeat`] as it goes (per document, per
    /// megabyte): liveness is a heartbeat, so a slow subtask that keeps beating is never
    /// taken for a dead one, and a replaced worker's subtask sees `Err(Cancelled)` from
    /// its next beat and stops. A subtask that reads inputs may report their fingerprint
    /// with [`TaskContext::record_fingerprint`] (see
    /// [`fingerprints_in_run`](Job::fingerprints_in_run)); otherwise the coordinator calls
    /// [`fingerprint`](Job::fingerprint) before running it, when it keeps a checkpoint.
    ///
    /// # Errors
    ///
    /// A [`JobError`] for a failure that running again cannot fix (an unreadable input);
    /// the coordinator stops the job with it instead of retrying.
    /// [`JobError::Cancelled`] (what `?` on a heartbeat gives) ends a replaced run.
    fn run(&self, subtask: usize, ctx: &TaskContext) -> Result<Self::Output, JobError>;
}

/// A failure of a subtask that retrying cannot fix; it stops the job.
///
/// # Examples
///
/// ```
/// let e = snapstate_coordinator::JobError::new("cannot read notes.txt: permission denied");
/// assert_eq!(e.to_string(), "cannot read notes.txt: permission denied");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The subtask cannot be done.
    #[error("{message}")]
    Failed {
        /// What went wrong.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The subtask cannot be done, for the reason this error gives (its message and
    /// source are the inner error's).
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
    /// The run was cancelled (its worker was replaced, or the job is stopping); nothing
    /// it would produce is used.
    #[error("cancelled")]
    Cancelled,
}

impl JobError {
    /// A job error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        JobError::Failed {
            message: message.into(),
            source: None,
        }
    }

    /// A job error with this message, caused by `source`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::error::Error as _;
    /// let io = std::io::Error::other("disk on fire");
    /// let e = snapstate_coordinator::JobError::with_source("cannot read a.txt", io);
    /// assert_eq!(e.to_string(), "cannot read a.txt");
    /// assert_eq!(e.source().unwrap().to_string(), "disk on fire");
    /// ```
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        JobError::Failed {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

impl JobError {
    /// A job error that is `error` itself: the same message, the same source.
    ///
    /// # Examples
    ///
    /// ```
    /// let io = std::io::Error::other("disk on fire");
    /// assert_eq!(snapstate_coordinator::JobError::other(io).to_string(), "disk on fire");
    /// ```
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        JobError::Other(Box::new(error))
    }
}

impl From<Cancelled> for JobError {
    fn from(_: Cancelled) -> Self {
        JobError::Cancelled
    }
}
