//! The coordinator's error types.
//!
//! Each error's message describes its own layer only and hands the cause on through
//! [`source`](std::error::Error::source): print the chain (as the `snapstate` program
//! does) to see the whole story.

use std::io;
use std::path::PathBuf;

use crate::event::FailureCause;
use crate::job::JobError;

/// Why a run stopped without finishing.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::CoordinatorConfig;
///
/// let err = CoordinatorConfig::new(0).unwrap_err();
/// assert_eq!(err.to_string(), "workers must be between 1 and 1024 (got 0)");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoordinatorError {
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
    /// A subtask failed in a way retrying cannot fix.
    #[error("subtask {subtask} failed")]
    Job {
        /// The subtask.
        subtask: usize,
        /// What went wrong.
        #[source]
        source: JobError,
    },
    /// One subtask failed too many times.
    #[error("gave up: subtask {subtask} failed {failures} times (last: worker {last})")]
    GaveUp {
        /// The subtask.
        subtask: usize,
        /// How many times it failed.
        failures: u32,
        /// The last failure.
        last: FailureCause,
    },
    /// The checkpoint directory could not be used.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointDirError),
    /// The snapshot array refused an operation (a bug in the coordinator if it happens).
    #[error("snapshot array")]
    Core(#[from] snapstate::Error),
    /// The run was asked to stop ([`CoordinatorHandle::stop`](crate::CoordinatorHandle::stop))
    /// and did, after a last snapshot.
    #[error("stopped on request with {committed} of {subtasks} subtasks committed")]
    Stopped {
        /// Subtasks committed (and, with a checkpoint directory, durable).
        committed: usize,
        /// Subtasks in the job.
        subtasks: usize,
    },
    /// An internal invariant of exactly-once commit broke (a bug in the coordinator).
    #[error("internal error (a bug): {0}")]
    Invariant(String),
    /// A worker thread could not be started.
    #[error("cannot start a worker thread")]
    Spawn(#[source] io::Error),
}

/// Why a checkpoint directory could not be used. Every variant names the path.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::CheckpointDirError;
///
/// let e = CheckpointDirError::Foreign { dir: "/tmp/photos".into() };
/// assert!(e.to_string().contains("not a snapstate checkpoint directory"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointDirError {
    /// Reading or writing failed.
    #[error("checkpoint {}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The directory holds files but no snapstate manifest.
    #[error(
        "{} is not a snapstate checkpoint directory (it holds other files and no {}); use an empty or new directory",
        dir.display(),
        crate::durable::MANIFEST
    )]
    Foreign {
        /// The directory.
        dir: PathBuf,
    },
    /// The path is a file, not a directory.
    #[error("checkpoint directory {} is a file, not a directory; give the path of a directory (it is created if missing)", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// Another run holds the directory's lock.
    #[error(
        "checkpoint directory {} is in use by another snapstate run ({holder}); wait for it to end or stop it, or use another directory",
        dir.display()
    )]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// Who holds it: pid, host, start time.
        holder: String,
    },
    /// A file in the directory is damaged.
    #[error(
        "corrupt checkpoint file {}: {reason}; to start over, delete {} or use another directory",
        path.display(),
        dir.display()
    )]
    Corrupt {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The progress checkpoint (in the core's checkpoint encoding) is truncated, corrupt
    /// or of another format version.
    #[error(
        "corrupt checkpoint file {} (to start over, delete {} or use another directory)",
        path.display(),
        dir.display()
    )]
    Progress {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The file.
        path: PathBuf,
        /// The core's typed reason.
        #[source]
        source: snapstate::CheckpointError,
    },
    /// A file in the directory was written by another job (copied from another
    /// checkpoint directory).
    #[error(
        "checkpoint file {} belongs to another job (copied from another checkpoint directory?); to start over, delete {} or use another directory",
        path.display(),
        dir.display()
    )]
    ForeignFile {
        /// The checkpoint directory.
        dir: PathBuf,
        /// The file.
        path: PathBuf,
    },
    /// The directory was written by a different job.
    #[error(
        "checkpoint directory {} belongs to a different job ({}); resume it with the settings it was written with, or start over: delete it or use another directory",
        dir.display(),
        differences.join("; ")
    )]
    DifferentJob {
        /// The directory.
        dir: PathBuf,
        /// What differs, one `"what: this run's value here, the directory's there"` each.
        differences: Vec<String>,
        /// The job it was written by.
        found: String,
        /// The job being run now.
        expected: String,
    },
}

/// Wraps an I/O error with the path it happened on.
pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> CheckpointDirError {
    let path = path.into();
    move |source| CheckpointDirError::Io { path, source }
}
