//! The coordinator's error types.

use std::fmt;
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
#[derive(Debug)]
#[non_exhaustive]
pub enum CoordinatorError {
    /// A setting is out of range.
    Config(String),
    /// A subtask failed in a way retrying cannot fix.
    Job {
        /// The subtask.
        subtask: usize,
        /// What went wrong.
        source: JobError,
    },
    /// One subtask failed too many times.
    GaveUp {
        /// The subtask.
        subtask: usize,
        /// How many times it failed.
        failures: u32,
        /// The last failure.
        last: FailureCause,
    },
    /// The checkpoint directory could not be used.
    Checkpoint(CheckpointDirError),
    /// The snapshot array refused an operation (a bug in the coordinator if it happens).
    Core(snapstate::Error),
    /// An internal invariant of exactly-once commit broke (a bug in the coordinator).
    Invariant(String),
    /// A worker thread could not be started.
    Spawn(io::Error),
}

impl fmt::Display for CoordinatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoordinatorError::Config(msg) => f.write_str(msg),
            CoordinatorError::Job { subtask, source } => {
                write!(f, "subtask {subtask} failed: {source}")
            }
            CoordinatorError::GaveUp {
                subtask,
                failures,
                last,
            } => write!(
                f,
                "gave up: subtask {subtask} failed {failures} times (last: worker {last})"
            ),
            CoordinatorError::Checkpoint(e) => e.fmt(f),
            CoordinatorError::Core(e) => write!(f, "snapshot array: {e}"),
            CoordinatorError::Invariant(msg) => write!(f, "internal error (a bug): {msg}"),
            CoordinatorError::Spawn(e) => write!(f, "cannot start a worker thread: {e}"),
        }
    }
}

impl std::error::Error for CoordinatorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CoordinatorError::Job { source, .. } => Some(source),
            CoordinatorError::Checkpoint(e) => Some(e),
            CoordinatorError::Core(e) => Some(e),
            CoordinatorError::Spawn(e) => Some(e),
            CoordinatorError::Config(_)
            | CoordinatorError::GaveUp { .. }
            | CoordinatorError::Invariant(_) => None,
        }
    }
}

impl From<CheckpointDirError> for CoordinatorError {
    fn from(e: CheckpointDirError) -> Self {
        CoordinatorError::Checkpoint(e)
    }
}

impl From<snapstate::Error> for CoordinatorError {
    fn from(e: snapstate::Error) -> Self {
        CoordinatorError::Core(e)
    }
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
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointDirError {
    /// Reading or writing failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The directory holds files but no snapstate manifest.
    Foreign {
        /// The directory.
        dir: PathBuf,
    },
    /// A file in the directory is damaged.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The progress checkpoint (the core's checkpoint file) could not be read or written:
    /// missing, truncated, corrupt, foreign or of another format version.
    Progress {
        /// The file.
        path: PathBuf,
        /// The core's typed reason.
        source: snapstate::CheckpointError,
    },
    /// The directory was written by a different job.
    DifferentJob {
        /// The directory.
        dir: PathBuf,
        /// The job it was written by.
        found: String,
        /// The job being run now.
        expected: String,
    },
}

impl fmt::Display for CheckpointDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointDirError::Io { path, source } => {
                write!(f, "checkpoint {}: {source}", path.display())
            }
            CheckpointDirError::Foreign { dir } => write!(
                f,
                "{} is not a snapstate checkpoint directory (it holds other files and no {}); use an empty or new directory",
                dir.display(),
                crate::durable::MANIFEST
            ),
            CheckpointDirError::Corrupt { path, reason } => {
                write!(f, "corrupt checkpoint file {}: {reason}", path.display())
            }
            CheckpointDirError::Progress { path, source } => match source {
                snapstate::CheckpointError::Io { source, .. } => {
                    write!(f, "checkpoint {}: {source}", path.display())
                }
                _ => write!(f, "corrupt checkpoint file {}: {source}", path.display()),
            },
            CheckpointDirError::DifferentJob {
                dir,
                found,
                expected,
            } => write!(
                f,
                "checkpoint directory {} belongs to a different job ({found}; this run is {expected}); use a new directory or the same flags",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for CheckpointDirError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointDirError::Io { source, .. } => Some(source),
            CheckpointDirError::Progress { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Wraps an I/O error with the path it happened on.
pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> CheckpointDirError {
    let path = path.into();
    move |source| CheckpointDirError::Io { path, source }
}
