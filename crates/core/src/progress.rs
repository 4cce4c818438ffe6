//! `advance`: progress that never goes back.

use crate::local;
use crate::word::Word;
use crate::{Error, SnapshotArray};

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// Raises node `idx`'s state to `state` if `state` is higher than its current state;
    /// returns whether it did.
    ///
    /// For racing progress reporters: however many threads report progress for one
    /// node, and in whatever order their reports land, the node's state (current and in
    /// every snapshot) never goes down, and it ends at the highest value reported.
    ///
    /// Linearizable with respect to reads, snapshots and other `advance` calls. It does
    /// not wait for other `advance` calls except in one case: a new version must start
    /// from the value before it, so if the node's newest version is still being written
    /// by another thread (between its claim and its publish, a few instructions) it waits
    /// for that to finish, like [`snap`](Self::snap) waits for writers of the epoch it
    /// closes. Mixing `advance` with [`set_state`](Self::set_state) on the same node: a
    /// `set_state` overrides, so a later `advance` starts from its value; an `advance`
    /// racing a `set_state` in the same epoch may raise the value that `set_state` wrote.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfBounds`] if `idx >= len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// assert!(array.advance(0, 5)?);
    /// assert!(!array.advance(0, 3)?, "progress never goes back");
    /// assert_eq!(array.current_state(0)?, 5);
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn advance(&self, idx: usize, state: T) -> Result<bool, Error>
    where
        T: Ord,
    {
        let inner = &*self.inner;
        let node = inner.node(idx)?;
        // Like `set_state`: only boxed values need the collector (for the boxes they
        // replace and the ones they compare with); segments are protected by the
        // announcement, as for every writer.
        let guard = (!Word::<T>::is_inline()).then(|| local::pin(&inner.shared));
        Ok(inner.announced(|e| node.raise(e, &state, &inner.initial, guard.as_ref())))
    }
}
