//! [`Stats`]: what an array holds, for watching memory.

use crate::local;
use crate::{SnapshotArray, SnapshotId};

/// What an array holds, for watching memory. See [`SnapshotArray::stats`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Versions held in the nodes' logs (including dead ones not yet reclaimed).
    pub versions: u64,
    /// Bytes held by the logs: segment headers and slots (not boxed values' contents).
    pub bytes: u64,
    /// The oldest snapshot that can still be read.
    pub oldest_readable: SnapshotId,
    /// How many snapshots have been taken, as
    /// [`SnapshotArray::snapshots_taken`] counts them.
    pub snapshots_taken: u64,
    /// Live [`SnapshotPin`](crate::SnapshotPin)s.
    pub live_pins: usize,
}

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// What the array holds: versions, bytes, the oldest readable snapshot, live pins.
    ///
    /// Walks every node's log (`O(len + segments)`), without blocking anyone.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(2);
    /// array.set_state(0, 1)?;
    /// array.snap();
    /// array.set_state(0, 2)?;
    /// let stats = array.stats();
    /// assert_eq!(stats.versions, 2);
    /// assert_eq!(stats.snapshots_taken, 1);
    /// assert_eq!(stats.oldest_readable.get(), 0);
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let inner = &*self.inner;
        let guard = local::pin(&inner.shared);
        let (mut versions, mut bytes) = (0u64, 0u64);
        for node in inner.nodes.iter() {
            let (v, b) = node.footprint(&guard);
            versions += v as u64;
            bytes += b as u64;
        }
        Stats {
            versions,
            bytes,
            oldest_readable: SnapshotId::from(inner.floor()),
            snapshots_taken: inner.clock.taken(),
            live_pins: inner.floor.pins().live(),
        }
    }
}
