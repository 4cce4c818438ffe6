//! What the coordinator runs: a [`Job`] of numbered subtasks, each with an output.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::codec::{DecodeError, Reader};

/// A job the coordinator can run: `subtasks()` numbered subtasks, each producing one
/// [`Output`](Job::Output).
///
/// `run` must be deterministic: the same subtask gives the same output every time it is
/// run. That is what lets the coordinator redo work after a failure and still produce
/// exactly the output of a failure-free run. `run` may panic; a panic is a worker failure
/// and is recovered like any other.
///
/// # Examples
///
/// A job whose subtask `k` outputs `k * k`:
///
/// ```
/// use snapstate_coordinator::{Cancel, Job, JobError};
///
/// struct Squares(usize);
///
/// impl Job for Squares {
///     type Output = u64;
///     fn subtasks(&self) -> usize {
///         self.0
///     }
///     fn run(&self, subtask: usize, _cancel: &Cancel) -> Result<u64, JobError> {
///         Ok((subtask * subtask) as u64)
///     }
/// }
/// assert_eq!(Squares(4).run(3, &Cancel::default()).unwrap(), 9);
/// ```
pub trait Job: Send + Sync + 'static {
    /// What one subtask produces.
    type Output: Codec + Send + 'static;

    /// The number of subtasks, numbered `0..subtasks()`.
    fn subtasks(&self) -> usize;

    /// Runs subtask `subtask` and returns its output.
    ///
    /// A long subtask may poll `cancel` and return early once it is set: its worker has
    /// been replaced and nothing it produces will be used.
    ///
    /// # Errors
    ///
    /// A [`JobError`] for a failure that running again cannot fix (an unreadable input);
    /// the coordinator stops the job with it instead of retrying.
    fn run(&self, subtask: usize, cancel: &Cancel) -> Result<Self::Output, JobError>;
}

/// Encodes a subtask's output to bytes and back, for durable checkpoints.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::Codec;
///
/// let mut buf = Vec::new();
/// 42u64.encode(&mut buf);
/// assert_eq!(u64::decode(&buf).unwrap(), 42);
/// ```
pub trait Codec: Sized {
    /// Appends the encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// Decodes what [`encode`](Codec::encode) wrote.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] if `bytes` is not a complete encoding.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

impl Codec for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        crate::codec::put_varint(out, *self);
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let v = r.varint()?;
        if !r.is_empty() {
            return Err(DecodeError("trailing bytes after a u64"));
        }
        Ok(v)
    }
}

impl Codec for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Ok(bytes.to_vec())
    }
}

/// A failure of a subtask that retrying cannot fix; it stops the job.
///
/// # Examples
///
/// ```
/// let e = snapstate_coordinator::JobError::new("cannot read notes.txt: permission denied");
/// assert_eq!(e.to_string(), "cannot read notes.txt: permission denied");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobError(String);

impl JobError {
    /// A job error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        JobError(message.into())
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for JobError {}

/// Set when a worker has been replaced: whatever it is still doing will be thrown away.
///
/// # Examples
///
/// ```
/// let cancel = snapstate_coordinator::Cancel::default();
/// assert!(!cancel.is_cancelled());
/// ```
#[derive(Debug, Default)]
pub struct Cancel(AtomicBool);

impl Cancel {
    /// Whether the worker running this subtask has been replaced.
    pub fn is_cancelled(&self) -> bool {
        // Relaxed: a hint to stop early; the fence against a replaced worker's output is
        // the generation check under the node's outbox lock, not this flag.
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn cancel(&self) {
        // Relaxed: see `is_cancelled`.
        self.0.store(true, Ordering::Relaxed);
    }
}
