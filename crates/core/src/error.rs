//! The one error type of the core.

use std::fmt;

use crate::SnapshotId;

/// Why an operation on a [`SnapshotArray`](crate::SnapshotArray) was refused.
///
/// Every variant names the value that was wrong and the range that would have been
/// accepted. Operations never panic on bad input; they return one of these.
///
/// # Examples
///
/// ```
/// use snapstate::{Error, SnapshotArray, SnapshotId};
///
/// let array: SnapshotArray = SnapshotArray::new(2);
/// assert_eq!(
///     array.set_state(5, 1),
///     Err(Error::IndexOutOfBounds { idx: 5, len: 2 })
/// );
/// let err = array.fetch_state(0, SnapshotId::from(0)).unwrap_err();
/// assert!(matches!(err, Error::SnapshotNotTaken { .. }));
/// assert_eq!(
///     err.to_string(),
///     "snapshot 0 has not been taken yet (no snapshot has been taken)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The node index is not below the array's length.
    IndexOutOfBounds {
        /// The index that was passed.
        idx: usize,
        /// The array's length; valid indices are `0..len`.
        len: usize,
    },
    /// No `snap()` has returned this id yet.
    SnapshotNotTaken {
        /// The id that was passed.
        id: SnapshotId,
        /// The number of snapshots taken so far; valid ids are `0..taken`.
        taken: u64,
    },
    /// The snapshot was compacted away.
    Compacted {
        /// The id that was passed.
        id: SnapshotId,
        /// The oldest snapshot that can still be read.
        oldest: SnapshotId,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::IndexOutOfBounds { idx, len } => {
                write!(f, "node index {idx} is out of range (valid: 0..{len})")
            }
            Error::SnapshotNotTaken { id, taken: 0 } => {
                write!(
                    f,
                    "snapshot {id} has not been taken yet (no snapshot has been taken)"
                )
            }
            Error::SnapshotNotTaken { id, taken } => write!(
                f,
                "snapshot {id} has not been taken yet (valid: 0..={})",
                taken - 1
            ),
            Error::Compacted { id, oldest } => write!(
                f,
                "snapshot {id} was compacted away (oldest readable: {oldest})"
            ),
        }
    }
}

impl std::error::Error for Error {}
