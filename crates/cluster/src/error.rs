//! The one error type of the distributed mode: every message says what to do next.

use std::path::PathBuf;
use std::time::Duration;

/// Why a coordinator or worker process of the distributed mode stopped.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use snapstate_cluster::ClusterError;
///
/// let e = ClusterError::Unreachable {
///     endpoints: "http://127.0.0.1:1".into(),
///     waited: Duration::from_secs(2),
///     last: "connection refused".into(),
/// };
/// assert!(e.to_string().starts_with("cannot reach etcd at http://127.0.0.1:1 within 2.0 s"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// A flag or setting is invalid.
    #[error("{0}")]
    Config(String),
    /// No etcd endpoint answered in time.
    #[error(
        "cannot reach etcd at {endpoints} within {:.1} s (last error: {last}); \
         check that etcd is running there and that --etcd lists its client URLs",
        waited.as_secs_f64()
    )]
    Unreachable {
        /// The endpoints tried, comma-separated.
        endpoints: String,
        /// How long they were tried.
        waited: Duration,
        /// The last error seen.
        last: String,
    },
    /// etcd refused or failed a request, after retries on every endpoint.
    #[error("etcd {what} failed: {message}")]
    Etcd {
        /// The request.
        what: &'static str,
        /// What etcd or the transport said.
        message: String,
    },
    /// The job spec in etcd does not fit this process (missing, other version, other job).
    #[error("{0}")]
    Spec(String),
    /// This process lost its lease or its leadership: another process is in charge now.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The store directory is unusable.
    #[error("store {}: {reason}", path.display())]
    Store {
        /// The file or directory involved.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A message from a peer broke the protocol (the connection it came on is closed).
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The network refused (binding a listener, connecting to the leader).
    #[error("network: {0}")]
    Net(String),
    /// A subtask failed in a way retrying cannot fix.
    #[error("subtask {subtask} failed: {message}")]
    Job {
        /// The subtask.
        subtask: usize,
        /// What went wrong.
        message: String,
    },
    /// The snapshot array refused an operation (a bug if it happens).
    #[error("snapshot array: {0}")]
    Core(#[from] snapstate::Error),
    /// An internal invariant broke (a bug if it happens).
    #[error("internal invariant broken: {0}")]
    Invariant(String),
}

impl ClusterError {
    /// A [`ClusterError::Store`] error for `path` from an i/o error.
    pub fn store(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        ClusterError::Store {
            path: path.into(),
            reason: e.to_string(),
        }
    }
}
