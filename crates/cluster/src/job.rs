//! [`JobKind`]: how a job is rebuilt, on any machine, from the parameters in its spec;
//! and the one encoding of outputs on the wire and in the store (postcard, as the
//! embedded coordinator's checkpoints use).
//!
//! The distributed runner knows nothing of what a job computes: the CLI plugs the
//! search index in as a `JobKind`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use snapstate_coordinator::Job;

use crate::error::ClusterError;

/// A kind of job the distributed mode can run: its name in specs, and how to rebuild
/// it from the parameters the coordinator published.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::JobKind;
/// use snapstate_coordinator::{Job, JobError, JobIdentity, TaskContext};
///
/// struct Squares(usize);
/// impl Job for Squares {
///     type Output = u64;
///     fn identity(&self) -> JobIdentity { JobIdentity::new("squares").with("n", self.0) }
///     fn subtasks(&self) -> usize { self.0 }
///     fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> { Ok((k * k) as u64) }
/// }
///
/// struct SquaresKind;
/// impl JobKind for SquaresKind {
///     type Job = Squares;
///     fn kind(&self) -> &'static str { "squares" }
///     fn build(&self, params: &serde_json::Value) -> Result<Squares, String> {
///         let n = params["n"].as_u64().ok_or("params need a number n")?;
///         Ok(Squares(n as usize))
///     }
/// }
/// assert_eq!(SquaresKind.build(&serde_json::json!({"n": 4})).unwrap().subtasks(), 4);
/// ```
pub trait JobKind: Send + Sync + 'static {
    /// The job it builds.
    type Job: Job;
    /// The name specs carry (`JobSpec::kind`).
    fn kind(&self) -> &'static str;
    /// Rebuilds the job from `params`.
    ///
    /// # Errors
    ///
    /// A message saying which parameter is wrong.
    fn build(&self, params: &serde_json::Value) -> Result<Self::Job, String>;
}

/// Encodes an output for the wire and the store.
///
/// # Errors
///
/// [`ClusterError::Job`] if the output cannot be serialised.
pub fn encode_output<T: Serialize>(subtask: usize, output: &T) -> Result<Vec<u8>, ClusterError> {
    postcard::to_allocvec(output).map_err(|e| ClusterError::Job {
        subtask,
        message: format!("cannot encode the output: {e}"),
    })
}

/// Decodes what [`encode_output`] wrote.
///
/// # Errors
///
/// [`ClusterError::Protocol`] for bytes that are not such an output.
pub fn decode_output<T: DeserializeOwned>(subtask: usize, bytes: &[u8]) -> Result<T, ClusterError> {
    postcard::from_bytes(bytes).map_err(|e| {
        ClusterError::Protocol(format!("subtask {subtask}'s output does not decode: {e}"))
    })
}

/// Decodes every output of a completed job, in subtask order.
///
/// # Errors
///
/// As [`decode_output`].
pub fn decode_outputs<T: DeserializeOwned>(outputs: &[Vec<u8>]) -> Result<Vec<T>, ClusterError> {
    outputs
        .iter()
        .enumerate()
        .map(|(k, b)| decode_output(k, b))
        .collect()
}

/// How the leader checks each output before it accepts a report: a malformed output
/// would otherwise be committed for good and only fail when the job's outputs are
/// decoded at the end. A failed check ends that worker's stream; the node is redone.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::{encode_output, OutputCheck};
///
/// let check = OutputCheck::decodes::<u64>();
/// assert!(check.check(0, &encode_output(0, &7u64).unwrap()).is_ok());
/// assert!(check.check(0, &[0xff; 11]).is_err());
/// assert!(OutputCheck::any().check(0, b"anything").is_ok());
/// ```
#[derive(Clone, Copy)]
pub struct OutputCheck(fn(usize, &[u8]) -> Result<(), ClusterError>);

impl OutputCheck {
    /// Accepts any bytes.
    pub fn any() -> Self {
        OutputCheck(|_, _| Ok(()))
    }

    /// Accepts bytes that decode as a `T` (with nothing left over).
    pub fn decodes<T: DeserializeOwned>() -> Self {
        OutputCheck(|k, b| decode_output::<T>(k, b).map(|_| ()))
    }

    /// Checks subtask `subtask`'s output.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Protocol`] if it does not pass.
    pub fn check(&self, subtask: usize, bytes: &[u8]) -> Result<(), ClusterError> {
        (self.0)(subtask, bytes)
    }
}

impl std::fmt::Debug for OutputCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutputCheck")
    }
}
