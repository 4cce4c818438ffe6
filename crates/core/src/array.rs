//! [`SnapshotArray`], the public face of the core: the point operations.
//!
//! Bulk reads live in `bulk`, `advance` in `progress`, compaction in `compact`, pins in
//! `pin`, the floor policy in `floor`, the builder in `builder` and its compactor thread in
//! `background`, `stats` in `stats`, checkpoints in `checkpoint`.

use std::borrow::Borrow;
use std::fmt;

use crossbeam_epoch::Guard;

use crate::background::Background;
use crate::clock::Clock;
use crate::floor::Floor;
use crate::local::{self, Shared};
use crate::node::{Node, ReadAt};
use crate::sync::{fence, Arc, Mutex, Ordering};
use crate::word::Word;
use crate::{Error, SnapshotId};

/// An array of `len` node states with linearizable point-in-time snapshots.
///
/// Every method takes `&self` and may be called from any number of threads at once;
/// `set_state`, `snap` and the reads take no lock. See the [crate documentation](crate)
/// for how it works.
///
/// | operation | cost | progress |
/// |---|---|---|
/// | [`set_state`](Self::set_state) | one SeqCst fence, a few plain loads and stores; one CAS per node per epoch | lock-free; wait-free when no other thread writes the same node |
/// | [`snap`](Self::snap) | one `fetch_add`, one fence, one load per writer thread, one `fetch_max` | blocking, but only on writers already inside `set_state` for the epoch it closes |
/// | [`fetch_state`](Self::fetch_state) | `O(log v)` for `v` versions of the node | wait-free, except for an id whose `snap()` is still in progress (see its docs) |
/// | [`current_state`](Self::current_state) | `O(1)` | wait-free while no `snap()` is in progress (lock-free while writers of the node race); during one, it first waits for that epoch's writers, as `snap()` does |
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
    pub(crate) inner: Arc<Inner<T>>,
    /// The background compactor, if the builder asked for one.
    pub(crate) background: Option<Background>,
}

/// The array's state, shared with the background compactor thread if there is one.
pub(crate) struct Inner<T> {
    pub(crate) nodes: Box<[Node<T>]>,
    pub(crate) clock: Clock,
    pub(crate) shared: Arc<Shared>,
    /// The state of a node before its first write.
    pub(crate) initial: T,
    /// How to free what a version word owns; captured where `T`'s bounds are known.
    pub(crate) release: unsafe fn(u64),
    /// The oldest readable snapshot, and the pins that hold it back.
    pub(crate) floor: Floor,
    /// Serialises reclamation passes.
    pub(crate) reclaiming: Mutex<()>,
    /// Keep only the last this-many snapshots readable (moves `floor` on every snap).
    pub(crate) retain: Option<u64>,
}

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// An array of `len` nodes, each starting at `T::default()` (0 for the default `u64`).
    ///
    /// Allocates the node table (8 bytes per node) and nothing else: a node's log is
    /// allocated on its first write. Keeps every snapshot until [`compact`](Self::compact)
    /// is called; [`builder`](Self::builder) sets a retention instead.
    ///
    /// # Panics
    ///
    /// Like `Vec::with_capacity`, if a table of `len` 8-byte heads cannot exist
    /// (`len * 8` overflows `isize`); aborts if the allocation fails.
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
        Self::from_parts(
            Inner::new(
                (0..len).map(|_| Node::default()).collect(),
                T::default(),
                0,
                None,
            ),
            None,
        )
    }

    pub(crate) fn from_parts(inner: Inner<T>, background: Option<Background>) -> Self {
        SnapshotArray {
            inner: Arc::new(inner),
            background,
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
        self.inner.nodes.len()
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
        self.inner.nodes.is_empty()
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
        let inner = &*self.inner;
        let node = inner.node(idx)?;
        let guard = (!Word::<T>::is_inline()).then(|| local::pin(&inner.shared));
        let mut word = Word::<T>::encode(state);
        inner.announced(|e| match node.write(e, word, guard.as_ref()) {
            Ok(()) => Ok(()),
            Err(back) => {
                word = back;
                Err(())
            }
        });
        Ok(())
    }

    /// Takes a snapshot of every node and returns its id: `0` for the first, then `1`, ...
    ///
    /// Costs `O(1)` in the number of nodes and in history: it closes the open epoch and
    /// checks that no `set_state` call is still inside it (one load per thread that has
    /// written to this array), and seals the snapshot. A call still inside the epoch gets
    /// a short spin (63 spin-loop hints: about 1.6 us on the 2-core machine of `benches/`)
    /// to finish; if it has not (its thread was descheduled mid-write), `snap()` returns
    /// the id unsealed and the first read of it finishes the seal, so `snap()` itself
    /// never waits for another thread to be scheduled. It never waits for calls that start
    /// after it. With a retention set by the [`builder`](Self::builder), it also moves the
    /// oldest readable snapshot forward (under the pin lock, still no per-node work).
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
        let e = self.inner.take_snapshot();
        self.after_snapshot(e);
        SnapshotId::from(e)
    }

    /// Retention: moves the floor after snapshot `e` and nudges the compactor.
    #[inline]
    pub(crate) fn after_snapshot(&self, e: u64) {
        if let Some(keep) = self.inner.retain {
            self.inner.raise_floor((e + 1).saturating_sub(keep));
            if let Some(background) = &self.background {
                background.nudge();
            }
        }
    }

    /// Node `idx`'s state as of snapshot `snap`.
    ///
    /// Once `snap()` has returned an id, the answer for that id never changes (until it is
    /// compacted away). `O(log v)` for `v` versions of the node, never blocks writers,
    /// and wait-free for every sealed id: one whose `snap()` found no `set_state` call
    /// still inside its epoch (the usual case), or one some read has sealed. Asked for an
    /// id that is not sealed yet (its `snap()` is in progress, or returned while a call
    /// was still inside the epoch), it seals it itself: it waits for the `set_state`
    /// calls still inside that epoch (a few instructions each, unless their threads are
    /// descheduled), rather than answer `SnapshotNotTaken` for an id other threads'
    /// later writes have already moved past.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfBounds`] if `idx >= len()`; [`Error::SnapshotNotTaken`] if no
    /// `snap()` has returned `snap` yet; [`Error::Compacted`] if it was compacted away.
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
        let inner = &*self.inner;
        inner.fetch_state(idx, snap, || local::pin(&inner.shared))
    }

    /// Node `idx`'s current state: the value of the last `set_state` to it that
    /// completed (or one racing with this call).
    ///
    /// Wait-free except while a `snap()` is in progress: then it finishes that snapshot
    /// first, waiting as `snap()` does for the `set_state` calls still inside the epoch it
    /// closed (a few instructions each), so that it never returns a value such a call is
    /// about to replace (see `Inner::settle_closed_epochs`).
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
        let inner = &*self.inner;
        inner.current_state(idx, || local::pin(&inner.shared))
    }

    /// The number of snapshots taken so far: ids `0..taken` have been handed out by
    /// `snap()` (a `snap()` still waiting for its epoch's writers counts; reading its id
    /// finishes it). Some may since have been compacted away.
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
        // Counting only sealed snapshots would not be linearizable, for the reason given
        // at `Inner::finish_sealing`; `Clock::taken` is the one definition.
        self.inner.clock.taken()
    }

    /// The oldest snapshot that can still be read; ids below it were compacted away.
    ///
    /// # Examples
    ///
    /// ```
    /// let array: snapstate::SnapshotArray = snapstate::SnapshotArray::new(1);
    /// assert_eq!(array.oldest_readable().get(), 0);
    /// ```
    #[inline]
    pub fn oldest_readable(&self) -> SnapshotId {
        SnapshotId::from(self.inner.floor())
    }
}

impl<T: Clone + Send + Sync + 'static> Inner<T> {
    pub(crate) fn new(
        nodes: Box<[Node<T>]>,
        initial: T,
        next_snapshot: u64,
        retain: Option<u64>,
    ) -> Self {
        Inner {
            nodes,
            clock: Clock::starting_at(next_snapshot),
            shared: Shared::new(),
            initial,
            release: Word::<T>::release,
            floor: Floor::new(next_snapshot.saturating_sub(1)),
            reclaiming: Mutex::new(()),
            retain,
        }
    }

    #[inline]
    pub(crate) fn node(&self, idx: usize) -> Result<&Node<T>, Error> {
        self.nodes.get(idx).ok_or(Error::IndexOutOfBounds {
            idx,
            len: self.nodes.len(),
        })
    }

    /// The oldest readable snapshot id (see `floor`).
    #[inline]
    pub(crate) fn floor(&self) -> u64 {
        self.floor.get()
    }

    /// Raises the floor towards `target`, never past a pinned snapshot or the newest
    /// sealed one. Returns the floor after the call.
    #[inline]
    pub(crate) fn raise_floor(&self, target: u64) -> u64 {
        self.floor.raise(target, &self.clock)
    }

    /// Whether `snap()` has handed out `snap` (an id below `Clock::taken`); on `Ok` it
    /// is sealed.
    ///
    /// An id whose `snap()` has bumped the clock but not yet sealed it is finished here
    /// rather than reported as not taken (see `finish_sealing`).
    #[inline]
    pub(crate) fn check_taken(&self, snap: SnapshotId) -> Result<(), Error> {
        let s = snap.get();
        if s >= self.clock.sealed() && !self.finish_sealing(s) {
            return Err(Error::SnapshotNotTaken {
                id: snap,
                taken: self.clock.taken(),
            });
        }
        Ok(())
    }

    /// Whether `snap` has been taken (see `check_taken`) and not compacted away.
    #[inline]
    pub(crate) fn check_readable(&self, snap: SnapshotId) -> Result<(), Error> {
        self.check_taken(snap)?;
        let s = snap.get();
        let oldest = self.floor();
        if s < oldest {
            return Err(Error::Compacted {
                id: snap,
                oldest: SnapshotId::from(oldest),
            });
        }
        Ok(())
    }

    /// The read path of [`SnapshotArray::fetch_state`] and [`Reader`](crate::Reader):
    /// checks, then reads under the guard `pin` gives (a fresh pin or a reader's own),
    /// taken only once the checks have passed.
    #[inline]
    pub(crate) fn fetch_state<G: Borrow<Guard>>(
        &self,
        idx: usize,
        snap: SnapshotId,
        pin: impl FnOnce() -> G,
    ) -> Result<T, Error> {
        let node = self.node(idx)?;
        self.check_readable(snap)?;
        let guard = pin();
        self.value_at(node, snap, guard.borrow())
    }

    /// The read path of [`SnapshotArray::current_state`] and [`Reader`](crate::Reader),
    /// with the guard as in `fetch_state`.
    #[inline]
    pub(crate) fn current_state<G: Borrow<Guard>>(
        &self,
        idx: usize,
        pin: impl FnOnce() -> G,
    ) -> Result<T, Error> {
        let node = self.node(idx)?;
        self.settle_closed_epochs();
        let guard = pin();
        Ok(match node.read_current(guard.borrow()) {
            // SAFETY: the word was encoded by a writer of this array, and it was loaded
            // under `guard`, which keeps a replaced box alive until after it is unpinned.
            Some(word) => unsafe { Word::<T>::clone_out(word) },
            None => self.initial.clone(),
        })
    }

    /// Node `node`'s value at the readable snapshot `snap`.
    #[inline]
    pub(crate) fn value_at(
        &self,
        node: &Node<T>,
        snap: SnapshotId,
        guard: &Guard,
    ) -> Result<T, Error> {
        match node.read_at(snap.get(), guard) {
            // SAFETY: the word was encoded by a writer of this array, and it was loaded
            // under `guard`, which keeps a replaced box alive until after we unpin.
            ReadAt::Found(word) => Ok(unsafe { Word::<T>::clone_out(word) }),
            // No version at or before `snap`: the node was never written by then, unless
            // a compaction that passed `snap` cut the chain under us.
            ReadAt::Before => {
                let oldest = self.floor();
                if snap.get() < oldest {
                    Err(Error::Compacted {
                        id: snap,
                        oldest: SnapshotId::from(oldest),
                    })
                } else {
                    Ok(self.initial.clone())
                }
            }
        }
    }

    /// Closes the open epoch and returns its id, sealed unless a writer of that epoch is
    /// still mid-write after a short spin.
    ///
    /// Returning unsealed leaves the array in a state it is already in whenever a
    /// `snap()` is descheduled between its clock bump and its seal: the id is taken
    /// (`Clock::taken`) but not sealed. Every operation handles that state, by finishing
    /// the seal when it needs it (`finish_sealing`, `settle_closed_epochs`, `compact`), and
    /// the snapping thread's own later operations are those of any thread that has seen
    /// the bump. So the wait for a descheduled writer moves from `snap()` to the first
    /// read of that id (or of current state) instead of vanishing, and only then.
    #[inline]
    pub(crate) fn take_snapshot(&self) -> u64 {
        let e = self.clock.close_epoch();
        // SeqCst: the snap half of the Dekker pair in `announce`: orders the clock bump
        // above before the announcement loads of the scan, against the writers' fences.
        fence(Ordering::SeqCst);
        if self.shared.registry.settled_after_spin(e) {
            self.clock.seal(e);
        }
        e
    }

    /// Before a read of current state: if a `snap()` has closed an epoch and is still
    /// waiting for its writers, finish it here (the same bounded wait).
    ///
    /// Without this a current read is not linearizable. A slow write `w` announced in
    /// epoch `e` lands in place after `snap()` bumped the clock past `e`; meanwhile this
    /// thread wrote another node in `e + 1` (so after the snap) and then read `w`'s node
    /// and got the value before `w`. Snapshot `e` holds `w`, so `w` precedes the snap,
    /// which precedes this thread's write, which precedes the read: the read must see
    /// `w`. Any operation that orders itself after the snap has read the bumped clock (or
    /// a value written after it), so the `open` load here, which happens after it, sees
    /// the bump too (read-read coherence) and waits. With no snap in progress, this is
    /// two loads.
    #[inline]
    pub(crate) fn settle_closed_epochs(&self) {
        let open = self.clock.open();
        if self.clock.sealed() < open {
            self.finish_sealing(open - 1);
        }
    }

    /// Seals snapshot `s` if its `snap()` is in progress (it has bumped the clock past
    /// `s` but is still waiting for writers); false if no `snap()` has handed out `s`.
    ///
    /// Answering "not taken" for such an id would not be linearizable: a write that
    /// started after the clock moved lands in a later epoch and may already have
    /// returned, and a thread that saw its write return and then heard "not taken"
    /// would expect the snapshot, once taken, to include it. So the reader does the
    /// rest of the snap's work itself: the same bounded wait for the writers still
    /// inside epochs up to `s`, then the seal. It never waits for the snapping thread.
    #[cold]
    fn finish_sealing(&self, s: u64) -> bool {
        if self.clock.taken() <= s {
            return false;
        }
        // SeqCst: as in `take_snapshot`. The clock value read above was written by the
        // bump of `snap(s)` or later; a writer whose clock re-read saw an epoch `<= s`
        // read an earlier value, so its fence precedes this one in the total order and
        // its announcement is visible to the scan (C++20 [atomics.order] p4, the
        // fence-fence case via coherence order on the clock).
        fence(Ordering::SeqCst);
        self.shared.registry.wait_for(s);
        self.clock.seal(s);
        true
    }

    /// Runs `write(e)` announced in the open epoch `e`, re-announcing while it reports a
    /// stale epoch (`Err`). The announcement protocol of `announce`.
    #[inline]
    pub(crate) fn announced<R>(&self, mut write: impl FnMut(u64) -> Result<R, ()>) -> R {
        let slot = local::slot(&self.shared);
        let mut e = self.clock.open();
        let out = loop {
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
            match write(e) {
                Ok(out) => break out,
                Err(()) => e = self.clock.open(),
            }
        };
        slot.clear();
        out
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        self.shared.close();
        for node in self.nodes.iter_mut() {
            node.free(self.release);
        }
    }
}

impl<T> Drop for SnapshotArray<T> {
    fn drop(&mut self) {
        // Stop and join the compactor first: it holds the other reference to `inner`.
        if let Some(background) = self.background.take() {
            background.stop();
        }
    }
}

impl<T> fmt::Debug for SnapshotArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotArray")
            .field("len", &self.inner.nodes.len())
            .field("snapshots_taken", &self.inner.clock.taken())
            .field("oldest_readable", &self.inner.floor.get())
            .finish_non_exhaustive()
    }
}

// White-box loom models, a child module so they reach the array's internals.
#[cfg(all(test, snapstate_loom))]
#[path = "loom_tests.rs"]
mod loom_tests;

#[cfg(all(test, not(snapstate_loom)))]
mod tests {
    use std::sync::mpsc;

    use crate::local;
    use crate::sync::{fence, Ordering};
    use crate::SnapshotArray;

    /// A writer stopped inside its announcement, as a descheduled one is: `snap()` returns
    /// after its short spin without sealing, and the first read of the id finishes the
    /// seal (waiting for the writer) and sees the write. Under the old `snap()`, which
    /// waited for the writer, this test would hang in `snap()`.
    #[test]
    fn snap_returns_unsealed_past_a_writer_stuck_mid_write_and_the_read_seals_it() {
        let array: SnapshotArray = SnapshotArray::new(2);
        array.set_state(0, 1).unwrap();
        let first = array.snap();
        assert_eq!(
            array.inner.clock.sealed(),
            first.get() + 1,
            "no writer: sealed"
        );
        let e = array.inner.clock.open();
        let (announced_tx, announced_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let array = &array;
        std::thread::scope(|s| {
            s.spawn(move || {
                // The first half of `announced`: announce the open epoch, fence, stop.
                let slot = local::slot(&array.inner.shared);
                slot.announce(e);
                fence(Ordering::SeqCst);
                announced_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                // The rest of the write, still in epoch `e`.
                let node = array.inner.node(1).unwrap();
                assert!(node.write(e, 7, None).is_ok());
                slot.clear();
            });
            announced_rx.recv().unwrap();
            let taken = array.snap();
            assert_eq!(taken.get(), e);
            assert_eq!(array.snapshots_taken(), e + 1, "the id is handed out");
            assert_eq!(
                array.inner.clock.sealed(),
                e,
                "but not sealed past the writer"
            );
            go_tx.send(()).unwrap();
            assert_eq!(array.fetch_state(1, taken).unwrap(), 7);
            assert_eq!(array.inner.clock.sealed(), e + 1, "the read sealed it");
            assert_eq!(array.fetch_state(0, taken).unwrap(), 1);
        });
    }
}
