//! Whole-snapshot reads: every node at once, what changed between two snapshots, and the
//! lowest state (the job's low watermark).

use std::fmt;

use crate::local;
use crate::pin::SnapshotPin;
use crate::{Error, SnapshotArray, SnapshotId};

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// Every node's state at snapshot `snap`, in node order.
    ///
    /// Consistent by construction: a sealed snapshot never changes, so reading its nodes
    /// one after another while writers run gives the state of one instant. One pinned
    /// guard for the whole read; `O(len * log v)`.
    ///
    /// # Errors
    ///
    /// [`Error::SnapshotNotTaken`] or [`Error::Compacted`] if `snap` is not readable
    /// (checked before reading and, through the node logs, while reading).
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(3);
    /// array.set_state(2, 9)?;
    /// let s = array.snap();
    /// array.set_state(0, 1)?;
    /// assert_eq!(array.fetch_all(s)?, vec![0, 0, 9]);
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn fetch_all(&self, snap: SnapshotId) -> Result<Vec<T>, Error> {
        let inner = &*self.inner;
        inner.check_readable(snap)?;
        let guard = local::pin(&inner.shared);
        inner
            .nodes
            .iter()
            .map(|node| inner.value_at(node, snap, &guard))
            .collect()
    }

    /// An iterator over every node's state at snapshot `snap`, holding a pin on it so
    /// compaction cannot pass it while the iterator lives.
    ///
    /// # Errors
    ///
    /// As for [`fetch_all`](Self::fetch_all).
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(3);
    /// array.set_state(1, 4)?;
    /// let s = array.snap();
    /// let total: u64 = array.iter_at(s)?.sum();
    /// assert_eq!(total, 4);
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn iter_at(&self, snap: SnapshotId) -> Result<SnapshotIter<'_, T>, Error> {
        Ok(SnapshotIter {
            pin: self.pin(snap)?,
            next: 0,
        })
    }

    /// The nodes written after snapshot `since` and at or before snapshot `until`, in
    /// order: exactly those whose state at `until` was set by a write made after
    /// `since` was taken. (A node set back to an earlier value still counts.)
    ///
    /// Only `until` must be readable; `since` may be older than the oldest readable
    /// snapshot, even never taken. If `since >= until` nothing changed.
    ///
    /// # Errors
    ///
    /// [`Error::SnapshotNotTaken`] or [`Error::Compacted`] if `until` is not readable.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(4);
    /// array.set_state(0, 1)?;
    /// let a = array.snap();
    /// array.set_state(2, 1)?;
    /// array.set_state(3, 1)?;
    /// let b = array.snap();
    /// assert_eq!(array.changed_since(a, b)?, vec![2, 3]);
    /// assert_eq!(array.changed_since(b, b)?, Vec::<usize>::new());
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn changed_since(&self, since: SnapshotId, until: SnapshotId) -> Result<Vec<usize>, Error> {
        let inner = &*self.inner;
        inner.check_readable(until)?;
        let guard = local::pin(&inner.shared);
        let mut changed = Vec::new();
        for (idx, node) in inner.nodes.iter().enumerate() {
            match node.epoch_at(until.get(), &guard) {
                Some(e) if e > since.get() => changed.push(idx),
                Some(_) => {}
                None => {
                    // Like `value_at`: either never written by then, or cut off by a
                    // compaction that passed `until` meanwhile.
                    inner.check_readable(until)?;
                }
            }
        }
        Ok(changed)
    }

    /// The lowest node state at snapshot `snap` (the job's low watermark), or `None` for
    /// an array of no nodes.
    ///
    /// # Errors
    ///
    /// As for [`fetch_all`](Self::fetch_all).
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(3);
    /// for (i, done) in [(0, 5), (1, 3), (2, 8)] {
    ///     array.set_state(i, done)?;
    /// }
    /// let s = array.snap();
    /// assert_eq!(array.min_state(s)?, Some(3));
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn min_state(&self, snap: SnapshotId) -> Result<Option<T>, Error>
    where
        T: Ord,
    {
        let inner = &*self.inner;
        inner.check_readable(snap)?;
        let guard = local::pin(&inner.shared);
        let mut lowest: Option<T> = None;
        for node in inner.nodes.iter() {
            let v = inner.value_at(node, snap, &guard)?;
            if lowest.as_ref().is_none_or(|l| v < *l) {
                lowest = Some(v);
            }
        }
        Ok(lowest)
    }
}

/// The states of every node at one snapshot; see [`SnapshotArray::iter_at`].
pub struct SnapshotIter<'a, T = u64> {
    pin: SnapshotPin<'a, T>,
    next: usize,
}

impl<T: Clone + Send + Sync + 'static> Iterator for SnapshotIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let value = self.pin.fetch_state(self.next).ok()?;
        self.next += 1;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.pin.array_len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl<T: Clone + Send + Sync + 'static> ExactSizeIterator for SnapshotIter<'_, T> {}

impl<T> fmt::Debug for SnapshotIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotIter")
            .field("pin", &self.pin)
            .field("next", &self.next)
            .finish()
    }
}
