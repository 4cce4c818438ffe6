//! Snapshot pins: RAII guards that keep a snapshot readable through compaction.

use std::fmt;

use crate::array::Inner;
use crate::{Error, SnapshotArray, SnapshotId};

impl<T: Clone + Send + Sync + 'static> Inner<T> {
    fn pin(&self, snap: SnapshotId) -> Result<(), Error> {
        let mut pins = self.floor.pins();
        // Checked under the pin lock, which every floor raise takes: no compaction can
        // pass `snap` between this check and the insert.
        self.check_readable(snap)?;
        pins.add(snap.get());
        Ok(())
    }
}

/// Keeps one snapshot readable while it lives: compaction never passes it.
///
/// Like a RocksDB managed snapshot. Dropping the pin releases the snapshot to
/// compaction. A pin that is never dropped holds every later version in memory; the
/// [`Stats::oldest_readable`](crate::Stats::oldest_readable) watermark staying flat while
/// writes continue is how a leaked pin shows.
///
/// # Examples
///
/// ```
/// use snapstate::SnapshotArray;
///
/// let array: SnapshotArray = SnapshotArray::new(1);
/// array.set_state(0, 1)?;
/// let pin = array.snap_pinned();
/// array.set_state(0, 2)?;
/// array.snap();
/// array.compact(array.snap())?; // would drop the pinned snapshot, but stops at it
/// assert_eq!(pin.fetch_state(0)?, 1);
/// drop(pin);
/// # Ok::<(), snapstate::Error>(())
/// ```
#[must_use = "a pin releases its snapshot when dropped"]
pub struct SnapshotPin<'a, T = u64> {
    array: &'a SnapshotArray<T>,
    id: SnapshotId,
}

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// Pins snapshot `snap` so compaction keeps it readable until the pin is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::SnapshotNotTaken`] or [`Error::Compacted`] if `snap` is not readable.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// let s = array.snap();
    /// let pin = array.pin(s)?;
    /// assert_eq!(pin.id(), s);
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn pin(&self, snap: SnapshotId) -> Result<SnapshotPin<'_, T>, Error> {
        self.inner.pin(snap)?;
        Ok(SnapshotPin {
            array: self,
            id: snap,
        })
    }

    /// Takes a snapshot and pins it, with no window in which it could be compacted.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// let pin = array.snap_pinned();
    /// assert_eq!(pin.id().get(), 0);
    /// ```
    pub fn snap_pinned(&self) -> SnapshotPin<'_, T> {
        // The pin lock, held across the snapshot, keeps every floor raise (they all take
        // it) from passing the new id before it is pinned.
        let mut pins = self.inner.floor.pins();
        let id = self.inner.take_snapshot();
        pins.add(id);
        drop(pins);
        self.after_snapshot(id);
        SnapshotPin {
            array: self,
            id: SnapshotId::from(id),
        }
    }

    /// The number of live pins.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// let _pin = array.snap_pinned();
    /// assert_eq!(array.live_pins(), 1);
    /// ```
    pub fn live_pins(&self) -> usize {
        self.inner.floor.pins().live()
    }
}

impl<T: Clone + Send + Sync + 'static> SnapshotPin<'_, T> {
    /// The pinned snapshot's id.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// assert_eq!(array.snap_pinned().id().get(), 0);
    /// ```
    pub fn id(&self) -> SnapshotId {
        self.id
    }

    /// Node `idx`'s state at the pinned snapshot.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfBounds`] if `idx` is out of range (never `Compacted`).
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// array.set_state(0, 3)?;
    /// let pin = array.snap_pinned();
    /// assert_eq!(pin.fetch_state(0)?, 3);
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn fetch_state(&self, idx: usize) -> Result<T, Error> {
        self.array.fetch_state(idx, self.id)
    }

    /// Every node's state at the pinned snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(2);
    /// array.set_state(1, 3)?;
    /// assert_eq!(array.snap_pinned().fetch_all(), vec![0, 3]);
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn fetch_all(&self) -> Vec<T> {
        self.array
            .fetch_all(self.id)
            .expect("a pinned snapshot stays readable")
    }
}

impl<T> SnapshotPin<'_, T> {
    pub(crate) fn array_len(&self) -> usize {
        self.array.inner.nodes.len()
    }
}

impl<T> Drop for SnapshotPin<'_, T> {
    fn drop(&mut self) {
        self.array.inner.floor.pins().release(self.id.get());
    }
}

impl<T> fmt::Debug for SnapshotPin<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotPin").field("id", &self.id).finish()
    }
}
