//! The bounds every message and file of the distributed mode is checked against, in one
//! place: the gRPC codec limits, and the checks of [`crate::wire`] and the store.

/// Sizes accepted from peers.
///
/// # Examples
///
/// ```
/// let limits = snapstate_cluster::Limits::new(1 << 20);
/// assert!(limits.max_message() as u64 > limits.max_output());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    max_output: u64,
}

impl Limits {
    /// The most bytes of any string field (job name, version, worker name).
    pub const MAX_STRING: usize = 256;
    /// Room for the fields around an output in one message.
    const ENVELOPE: usize = 1024;

    /// Limits for outputs of at most `max_output` bytes.
    pub fn new(max_output: u64) -> Self {
        Limits { max_output }
    }

    /// The largest output of one subtask.
    pub fn max_output(&self) -> u64 {
        self.max_output
    }

    /// The largest gRPC message either side decodes.
    pub fn max_message(&self) -> usize {
        usize::try_from(self.max_output)
            .unwrap_or(usize::MAX)
            .saturating_add(Self::ENVELOPE)
    }
}
