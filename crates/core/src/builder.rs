//! [`Builder`]: length, initial state, retention, and whether a background compactor runs.

use std::fmt;
use std::time::Duration;

use crate::array::Inner;
use crate::background::Background;
use crate::node::Node;
use crate::sync::Arc;
use crate::SnapshotArray;

/// Configures a [`SnapshotArray`]: its length, the nodes' initial state, and how many
/// snapshots to keep.
///
/// # Examples
///
/// ```
/// use snapstate::SnapshotArray;
///
/// // Keep the last 8 snapshots readable; a background thread reclaims older versions.
/// let array: SnapshotArray = SnapshotArray::builder().len(4).retain_last(8).build();
/// for round in 1..=20 {
///     array.set_state(0, round)?;
///     array.snap();
/// }
/// assert_eq!(array.oldest_readable().get(), 12);
/// # Ok::<(), snapstate::Error>(())
/// ```
pub struct Builder<T = u64> {
    len: usize,
    initial: T,
    retain: Option<u64>,
    background: Option<bool>,
    interval: Duration,
}

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// A builder for an array whose nodes start at `T::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::builder().len(3).build();
    /// assert_eq!(array.len(), 3);
    /// ```
    pub fn builder() -> Builder<T>
    where
        T: Default,
    {
        Builder {
            len: 0,
            initial: T::default(),
            retain: None,
            background: None,
            interval: Duration::from_millis(10),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Builder<T> {
    /// The number of nodes (default 0).
    pub fn len(mut self, len: usize) -> Self {
        self.len = len;
        self
    }

    /// The state of every node before its first write (default `T::default()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray<i64> =
    ///     snapstate::SnapshotArray::builder().len(1).initial(-1).build();
    /// assert_eq!(array.current_state(0)?, -1);
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn initial(mut self, initial: T) -> Self {
        self.initial = initial;
        self
    }

    /// Keep only the last `k` snapshots readable (at least 1; 0 is taken as 1): every
    /// `snap()` moves the oldest readable snapshot to `newest - k + 1`, stopping at pins.
    ///
    /// Versions that only older snapshots could see are reclaimed by a background thread
    /// (see [`background_compaction`](Self::background_compaction)) or by
    /// [`SnapshotArray::compact`].
    pub fn retain_last(mut self, k: u64) -> Self {
        self.retain = Some(k.max(1));
        self
    }

    /// Whether a background thread reclaims memory after the floor moves (default: on
    /// when [`retain_last`](Self::retain_last) is set, off otherwise). The thread is
    /// named `snapstate-compactor`, sleeps until a `snap()` moves the floor, runs at most
    /// once per [`compaction_interval`](Self::compaction_interval), and is joined when
    /// the array is dropped. Without it, call [`SnapshotArray::compact`] yourself.
    ///
    /// The background thread bounds memory only as well as it is scheduled: a writer
    /// that outruns a descheduled compactor piles up versions until it runs again, and
    /// the process may keep that peak resident. For a hard bound, turn it off and call
    /// `compact(array.oldest_readable())` from a writing thread every few snaps.
    pub fn background_compaction(mut self, on: bool) -> Self {
        self.background = Some(on);
        self
    }

    /// The least time between two background reclamation passes (default 10 ms).
    pub fn compaction_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Builds the array.
    ///
    /// # Panics
    ///
    /// As [`SnapshotArray::new`] for an impossible length.
    pub fn build(self) -> SnapshotArray<T> {
        let nodes = (0..self.len).map(|_| Node::default()).collect();
        let inner = Inner::new(nodes, self.initial, 0, self.retain);
        let wanted = self.background.unwrap_or(self.retain.is_some());
        SnapshotArray::with_background(inner, wanted, self.interval)
    }
}

impl<T> fmt::Debug for Builder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("len", &self.len)
            .field("retain", &self.retain)
            .field("background", &self.background)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// An array over `inner`, with a background compactor if `wanted`: a thread that runs
    /// one reclamation pass (see `compact`) per nudge of `after_snapshot`.
    pub(crate) fn with_background(inner: Inner<T>, wanted: bool, interval: Duration) -> Self {
        let mut array = SnapshotArray::from_parts(inner, None);
        if wanted {
            let inner = Arc::clone(&array.inner);
            array.background = Background::start(interval, move || inner.reclaim());
        }
        array
    }
}
