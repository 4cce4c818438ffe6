//! [`Reader`]: many reads under one pin.

use std::fmt;

use crossbeam_epoch::Guard;

use crate::local;
use crate::{Error, SnapshotArray, SnapshotId};

/// A thread's pinned view of an array, for a batch of reads.
///
/// Every [`SnapshotArray::fetch_state`] pins the array's crossbeam-epoch collector for
/// the length of the call, which costs a locked instruction and a few dozen others. A
/// `Reader` pins once and reads many times. While it lives, memory that compaction
/// retires after it was pinned is not freed: call [`refresh`](Self::refresh) now and then
/// in a long-lived reader, and drop it when the batch is done. It is bound to its thread.
///
/// # Examples
///
/// ```
/// use snapstate::SnapshotArray;
///
/// let array: SnapshotArray = SnapshotArray::new(3);
/// array.set_state(2, 5)?;
/// let s = array.snap();
/// let reader = array.reader();
/// let total: u64 = (0..3).map(|i| reader.fetch_state(i, s)).sum::<Result<u64, _>>()?;
/// assert_eq!(total, 5);
/// assert_eq!(reader.current_state(2)?, 5);
/// # Ok::<(), snapstate::Error>(())
/// ```
pub struct Reader<'a, T = u64> {
    array: &'a SnapshotArray<T>,
    guard: Guard,
}

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// A pinned view for a batch of reads on this thread; see [`Reader`].
    pub fn reader(&self) -> Reader<'_, T> {
        Reader {
            array: self,
            guard: local::pin(&self.inner.shared),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Reader<'_, T> {
    /// As [`SnapshotArray::fetch_state`], without pinning again.
    ///
    /// # Errors
    ///
    /// As [`SnapshotArray::fetch_state`].
    pub fn fetch_state(&self, idx: usize, snap: SnapshotId) -> Result<T, Error> {
        self.array.inner.fetch_state(idx, snap, || &self.guard)
    }

    /// As [`SnapshotArray::current_state`], without pinning again.
    ///
    /// # Errors
    ///
    /// As [`SnapshotArray::current_state`].
    pub fn current_state(&self, idx: usize) -> Result<T, Error> {
        self.array.inner.current_state(idx, || &self.guard)
    }

    /// Unpins and pins again, letting memory retired since the pin be reclaimed.
    pub fn refresh(&mut self) {
        self.guard.repin();
    }
}

impl<T> fmt::Debug for Reader<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader").finish_non_exhaustive()
    }
}
