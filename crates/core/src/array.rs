//! [`SnapshotArray`], the public face of the core.

use std::fmt;

use crate::clock::Clock;
use crate::local::{self, Shared};
use crate::node::Node;
use crate::sync::{fence, Arc, Ordering};
use crate::word::Word;
use crate::{Error, SnapshotId};

/// An array of `len` node states with linearizable point-in-time snapshots.
///
/// Every method takes `&self` and may be called from any number of threads at once; no
/// method takes a lock. See the [crate documentation](crate) for how it works.
///
/// | operation | cost | progress |
/// |---|---|---|
/// | [`set_state`](Self::set_state) | one SeqCst fence, a few plain loads and stores; one CAS per node per epoch | lock-free; wait-free when no other thread writes the same node |
/// | [`snap`](Self::snap) | one `fetch_add`, one fence, one load per writer thread, one `fetch_max` | blocking, but only on writers already inside `set_state` for the epoch it closes |
/// | [`fetch_state`](Self::fetch_state) | `O(log v)` for `v` versions of the node | wait-free |
/// | [`current_state`](Self::current_state) | `O(1)` | wait-free (lock-free while writers of the node race) |
///
/// # Examples
///
/// The walkthrough from the original feature description:
///
/// ```
/// use snapstate::SnapshotArray;
///
/// let nodes: SnapshotArray = SnapshotArray::new(3);
/// nodes.set_state(1, 4)?;
/// let s0 = nodes.snap();
/// nodes.set_state(1, 7)?;
/// assert_eq!(nodes.fetch_state(1, s0)?, 4);
/// assert_eq!(nodes.current_state(1)?, 7);
/// assert_eq!(nodes.fetch_state(0, s0)?, 0);
/// # Ok::<(), snapstate::Error>(())
/// ```
pub struct SnapshotArray<T = u64> {
    nodes: Box<[Node<T>]>,
    clock: Clock,
    shared: Arc<Shared>,
    /// The state of a node before its first write.
    initial: T,
    /// How to free what a version word owns; captured where `T`'s bounds are known.
    release: unsafe fn(u64),
}

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// An array of `len` nodes, each starting at `T::default()` (0 for the default `u64`).
    ///
    /// Allocates the node table (8 bytes per node) and nothing else: a node's log is
    /// allocated on its first write.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray<String> = snapstate::SnapshotArray::new(2);
    /// assert_eq!(array.len(), 2);
    /// assert_eq!(array.current_state(1)?, "");
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn new(len: usize) -> Self
    where
        T: Default,
    {
        Self::with_initial(len, T::default(), 0)
    }

    fn with_initial(len: usize, initial: T, next_snapshot: u64) -> Self {
        SnapshotArray {
            nodes: (0..len).map(|_| Node::default()).collect(),
            clock: Clock::starting_at(next_snapshot),
            shared: Shared::new(),
            initial,
            release: Word::<T>::release,
        }
    }

    /// The number of nodes.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(4);
    /// assert_eq!(array.len(), 4);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the array has no nodes.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(0);
    /// assert!(array.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    #[inline]
    fn node(&self, idx: usize) -> Result<&Node<T>, Error> {
        self.nodes.get(idx).ok_or(Error::IndexOutOfBounds {
            idx,
            len: self.nodes.len(),
        })
    }

    /// Sets node `idx`'s state.
    ///
    /// The write belongs to the epoch that is open when it happens: every snapshot taken
    /// after this call returns sees it (until a later write), and no snapshot returned
    /// before the call sees it. Several writes to one node between two snaps keep one
    /// version, overwritten in place.
    ///
    /// Lock-free, and wait-free when no other thread writes the same node. Writers of
    /// distinct nodes write no shared cache line. Costs one SeqCst fence; allocates only
    /// when the node's log needs a new segment (geometrically rarer) or, for types that
    /// are not primitive numbers, one box per call.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfBounds`] if `idx >= len()`; `state` is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(2);
    /// array.set_state(0, 10)?;
    /// assert_eq!(array.current_state(0)?, 10);
    /// assert!(array.set_state(2, 1).is_err());
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn set_state(&self, idx: usize, state: T) -> Result<(), Error> {
        let node = self.node(idx)?;
        let mut word = Word::<T>::encode(state);
        let guard = (!Word::<T>::is_inline()).then(|| local::pin(&self.shared));
        let slot = local::slot(&self.shared);
        let mut e = self.clock.open();
        loop {
            #[cfg(not(snapstate_mutant))]
            {
                slot.announce(e);
                // SeqCst: the writer half of the Dekker pair in `announce`: orders the
                // announcement store before the clock re-read below, against the fence
                // in `snap()` that orders its clock bump before its announcement scan.
                // A total order over the two fences is exactly what is needed.
                fence(Ordering::SeqCst);
                let now = self.clock.open();
                if now != e {
                    e = now;
                    continue;
                }
            }
            // The planted bug of `--cfg snapstate_mutant`: the epoch comes from a clock
            // read taken before the write with no announcement, so `snap()` can return
            // `e` while this write is still on its way into epoch `e`.
            match node.write(e, word, guard.as_ref()) {
                Ok(()) => break,
                Err(back) => {
                    word = back;
                    e = self.clock.open();
                }
            }
        }
        slot.clear();
        Ok(())
    }

    /// Takes a snapshot of every node and returns its id: `0` for the first, then `1`, ...
    ///
    /// Costs `O(1)` in the number of nodes and in history: it closes the open epoch and
    /// waits for the `set_state` calls already inside that epoch to finish, which takes
    /// them a few instructions each (one load per thread that has written to this array).
    /// It never waits for calls that start after it.
    ///
    /// # Panics
    ///
    /// After 2^62 - 2 snapshots of one array (about 146 years at one per nanosecond).
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// assert_eq!(array.snap().get(), 0);
    /// assert_eq!(array.snap().get(), 1);
    /// ```
    pub fn snap(&self) -> SnapshotId {
        let e = self.clock.close_epoch();
        // SeqCst: the snap half of the Dekker pair in `announce`: orders the clock bump
        // above before the announcement loads in `wait_for`, against the writers' fences.
        fence(Ordering::SeqCst);
        self.shared.registry.wait_for(e);
        self.clock.seal(e);
        SnapshotId::from(e)
    }

    /// Node `idx`'s state as of snapshot `snap`.
    ///
    /// Once `snap()` has returned an id, the answer for that id never changes.
    /// `O(log v)` for `v` versions of the node, wait-free, never blocks writers.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfBounds`] if `idx >= len()`; [`Error::SnapshotNotTaken`] if no
    /// `snap()` has returned `snap` yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use snapstate::{Error, SnapshotArray, SnapshotId};
    ///
    /// let array: SnapshotArray = SnapshotArray::new(1);
    /// array.set_state(0, 4)?;
    /// let s = array.snap();
    /// array.set_state(0, 5)?;
    /// assert_eq!(array.fetch_state(0, s)?, 4);
    /// assert!(matches!(
    ///     array.fetch_state(0, SnapshotId::from(9)),
    ///     Err(Error::SnapshotNotTaken { taken: 1, .. })
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn fetch_state(&self, idx: usize, snap: SnapshotId) -> Result<T, Error> {
        let node = self.node(idx)?;
        let s = snap.get();
        let taken = self.clock.sealed();
        if s >= taken {
            return Err(Error::SnapshotNotTaken { id: snap, taken });
        }
        let guard = local::pin(&self.shared);
        Ok(match node.read_at(s, &guard) {
            // SAFETY: the word was encoded by a writer of this array, and it was loaded
            // under `guard`, which keeps a replaced box alive until after we unpin.
            Some(word) => unsafe { Word::<T>::clone_out(word) },
            None => self.initial.clone(),
        })
    }

    /// Node `idx`'s current state: the value of the last `set_state` to it that
    /// completed (or one racing with this call).
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfBounds`] if `idx >= len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// assert_eq!(array.current_state(0)?, 0);
    /// array.set_state(0, 3)?;
    /// assert_eq!(array.current_state(0)?, 3);
    /// # Ok::<(), snapstate::Error>(())
    /// ```
    pub fn current_state(&self, idx: usize) -> Result<T, Error> {
        let node = self.node(idx)?;
        let guard = local::pin(&self.shared);
        Ok(match node.read_current(&guard) {
            // SAFETY: as in `fetch_state`.
            Some(word) => unsafe { Word::<T>::clone_out(word) },
            None => self.initial.clone(),
        })
    }

    /// The number of snapshots taken so far: ids `0..taken` are readable, and the next
    /// `snap()` returns at least `taken`.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// array.snap();
    /// assert_eq!(array.snapshots_taken(), 1);
    /// ```
    #[inline]
    pub fn snapshots_taken(&self) -> u64 {
        self.clock.sealed()
    }
}

impl<T> Drop for SnapshotArray<T> {
    fn drop(&mut self) {
        self.shared.close();
        for node in self.nodes.iter_mut() {
            node.free(self.release);
        }
    }
}

impl<T> fmt::Debug for SnapshotArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotArray")
            .field("len", &self.nodes.len())
            .field("snapshots_taken", &self.clock.sealed())
            .finish_non_exhaustive()
    }
}

// White-box loom models, a child module so they reach the array's internals.
#[cfg(all(test, loom))]
#[path = "loom_tests.rs"]
mod loom_tests;
