//! [`SnapshotId`], the name of one point-in-time snapshot.

use std::fmt;

/// The id of a snapshot: `0` for the first [`snap`](crate::SnapshotArray::snap) of an array,
/// then `1`, `2`, ...
///
/// Ids are plain numbers; converting to and from `u64` is free, so ids can be stored,
/// sent and typed in by hand. An id that no `snap()` has returned yet is rejected by the
/// readers with [`Error::SnapshotNotTaken`](crate::Error::SnapshotNotTaken).
///
/// # Examples
///
/// ```
/// use snapstate::{SnapshotArray, SnapshotId};
///
/// let array: SnapshotArray = SnapshotArray::new(1);
/// let first = array.snap();
/// assert_eq!(first, SnapshotId::from(0));
/// assert_eq!(u64::from(array.snap()), 1);
/// assert_eq!(first.to_string(), "0");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct SnapshotId(u64);

impl SnapshotId {
    /// The id as a number.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(snapstate::SnapshotId::from(7).get(), 7);
    /// ```
    #[inline]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The id after this one, or `None` at `u64::MAX`.
    ///
    /// # Examples
    ///
    /// ```
    /// use snapstate::SnapshotId;
    /// assert_eq!(SnapshotId::from(3).next(), Some(SnapshotId::from(4)));
    /// assert_eq!(SnapshotId::from(u64::MAX).next(), None);
    /// ```
    #[inline]
    pub const fn next(self) -> Option<SnapshotId> {
        match self.0.checked_add(1) {
            Some(n) => Some(SnapshotId(n)),
            None => None,
        }
    }
}

impl From<u64> for SnapshotId {
    #[inline]
    fn from(id: u64) -> Self {
        SnapshotId(id)
    }
}

impl From<SnapshotId> for u64 {
    #[inline]
    fn from(id: SnapshotId) -> Self {
        id.0
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
