//! Compaction: dropping versions no readable snapshot can see, and reclaiming them.
//!
//! Compaction has two halves. *Raising the floor* (the oldest readable snapshot) is
//! `O(1)` under the pin lock; from then on reads below the floor fail with
//! [`Error::Compacted`]. *Reclaiming* walks every node and frees what no snapshot at or
//! above the floor, and no current state, can reach:
//!
//! 1. Find the segment holding the version visible at the floor (call it `j`). Every
//!    segment before it is dead: cut the chain there.
//! 2. If at least half of that segment is dead and its last version is sealed (no writer
//!    can touch its slots again), freeze it against new claims, copy its live suffix
//!    into a right-sized segment, and link the copy in its place.
//! 3. Wait until every `set_state` that was in flight when the unlinking happened has
//!    finished (`Registry::wait_for_in_flight`: writers do not pin the collector), then
//!    hand the unlinked memory to the array's crossbeam-epoch collector, which frees it
//!    once no reader pinned before the unlink is still looking.
//!
//! Readers never block on any of this; a reader racing a floor raise either finishes
//! with the old answer (linearized before the raise) or meets a cut chain, re-reads the
//! floor and reports `Compacted` (linearized after it).

use crossbeam_epoch::Guard;

use crate::array::Inner;
use crate::local;
use crate::node::{free_chain, Node};
use crate::segment::{is_ready, Owned, Segment};
use crate::sync::{fence, Ordering};
use crate::{Error, SnapshotArray, SnapshotId};

/// Memory a reclamation pass unlinked, freed once no thread can reach it.
enum Retired<T> {
    /// A whole chain of segments and all the words they hold.
    Chain(*mut Segment<T>),
    /// One segment whose slots `j..` were copied elsewhere: free it and the words of
    /// slots `..j` only.
    Prefix(*mut Segment<T>, usize),
}

/// A batch of retired memory on its way to the collector.
struct Garbage<T> {
    items: Vec<Retired<T>>,
    release: unsafe fn(u64),
}

// SAFETY: the batch owns the unlinked segments and the values in their words outright
// (nothing else can reach them once it is handed to the collector); `T: Send`, so the
// values may be dropped on whichever thread the collector runs the batch.
unsafe impl<T: Send> Send for Garbage<T> {}

impl<T> Garbage<T> {
    /// # Safety
    ///
    /// No thread can reach the retired memory any more.
    unsafe fn free(self) {
        for item in self.items {
            match item {
                // SAFETY: forwarded from the caller; the chain was cut off its node.
                Retired::Chain(head) => unsafe { free_chain(head, self.release) },
                Retired::Prefix(seg, j) => {
                    // SAFETY: forwarded; the segment was unlinked and its `prev` cut.
                    let seg = unsafe { Owned::from_raw(seg) };
                    // SAFETY: words `..j` are dead and owned here; `j..` were copied.
                    unsafe { seg.release_words(0..j, self.release) };
                }
            }
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SnapshotArray<T> {
    /// Makes every snapshot older than `before` unreadable and reclaims the versions that
    /// only they could see. Returns the oldest readable snapshot afterwards.
    ///
    /// Never passes a pinned snapshot: the floor stops at the oldest pin. Concurrent with
    /// everything else and never blocks writers or readers; it waits for `set_state`
    /// calls in flight (their few remaining instructions) before freeing anything, and
    /// takes `O(len)` plus the work of copying partly dead segments. Concurrent
    /// compactions are serialised.
    ///
    /// # Errors
    ///
    /// [`Error::SnapshotNotTaken`] if no `snap()` has handed out `before` (it stays
    /// readable, so it must exist). An id whose `snap()` is still in progress counts as
    /// taken, as for the reads: `compact` first finishes that snapshot (the same bounded
    /// wait for the writers still inside its epoch), then proceeds.
    ///
    /// # Examples
    ///
    /// ```
    /// use snapstate::{Error, SnapshotArray};
    ///
    /// let array: SnapshotArray = SnapshotArray::new(1);
    /// let old = array.snap();
    /// array.set_state(0, 5)?;
    /// let new = array.snap();
    /// assert_eq!(array.compact(new)?, new);
    /// assert!(matches!(array.fetch_state(0, old), Err(Error::Compacted { .. })));
    /// assert_eq!(array.fetch_state(0, new)?, 5);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn compact(&self, before: SnapshotId) -> Result<SnapshotId, Error> {
        self.inner.check_taken(before)?;
        let floor = self.inner.raise_floor(before.get());
        self.inner.reclaim();
        Ok(SnapshotId::from(floor))
    }
}

impl<T: Clone + Send + Sync + 'static> Inner<T> {
    /// One reclamation pass at the current floor (see the module docs).
    pub(crate) fn reclaim(&self) {
        let _serial = self.reclaiming.lock();
        let Some((garbage, guard)) = self.unlink() else {
            return;
        };
        // SeqCst: the compactor half of the Dekker pair with writers' announcement fences
        // (`Registry::wait_for_in_flight`): orders the unlinking above before the scan of
        // the announcements.
        fence(Ordering::SeqCst);
        self.shared.registry.wait_for_in_flight();
        // SAFETY: `unlink` cut the memory off every node, and the barrier above waited
        // for every writer that could have loaded a pointer to it.
        unsafe { retire(garbage, &guard) };
    }

    /// A reclamation pass that skips the writer barrier: the bug the white-box model
    /// `compaction_without_barrier_is_caught` must catch. A copy of `reclaim` without
    /// its barrier, compiled only into the loom test build, so no test hook sits on the
    /// path that ships.
    #[cfg(all(test, snapstate_loom))]
    pub(crate) fn reclaim_without_barrier(&self) {
        let _serial = self.reclaiming.lock();
        let Some((garbage, guard)) = self.unlink() else {
            return;
        };
        // SeqCst: as in `reclaim`, so the barrier is the only difference.
        fence(Ordering::SeqCst);
        // SAFETY: deliberately not upheld (no barrier): a writer may still hold a pointer
        // into the memory. Loom reports its access through the slots' liveness probe
        // (`slots::Slots`) before any real use after free; that is what the model checks.
        unsafe { retire(garbage, &guard) };
    }

    /// Unlinks from every node what no snapshot at or above the floor can see, under a
    /// guard it returns with it; `None` if there is nothing to unlink. The caller holds
    /// `reclaiming`.
    fn unlink(&self) -> Option<(Garbage<T>, Guard)> {
        let floor = self.floor();
        let sealed = self.clock.sealed();
        let guard = local::pin(&self.shared);
        let mut items = Vec::new();
        for node in self.nodes.iter() {
            compact_node(node, floor, sealed, &guard, &mut items);
        }
        if items.is_empty() {
            return None;
        }
        let garbage = Garbage {
            items,
            release: self.release,
        };
        Some((garbage, guard))
    }
}

/// Hands unlinked memory to the collector and flushes, so it is freed once every reader
/// pinned before now has unpinned.
///
/// # Safety
///
/// No node links the memory any more, and every writer that could have loaded a pointer
/// to it has finished.
unsafe fn retire<T: Send + 'static>(garbage: Garbage<T>, guard: &Guard) {
    // SAFETY: the memory is unlinked from every node, and every writer that could have
    // loaded a pointer to it has finished (caller); the collector runs this only after
    // every reader pinned before now has unpinned.
    guard.defer(move || unsafe { garbage.free() });
    guard.flush();
}

/// Unlinks what node `node` no longer needs at `floor` into `out`.
fn compact_node<T: Clone + Send + Sync + 'static>(
    node: &Node<T>,
    floor: u64,
    sealed: u64,
    _guard: &Guard,
    out: &mut Vec<Retired<T>>,
) {
    // Find the segment holding the version visible at `floor`, and its successor.
    let mut succ: *mut Segment<T> = std::ptr::null_mut();
    let mut seg_ptr = node.tail();
    loop {
        if seg_ptr.is_null() {
            return; // no version at or before the floor: everything is live
        }
        // SAFETY: reached from the tail; only this (serialised) pass unlinks segments,
        // so every segment on the chain stays allocated while it walks.
        let seg = unsafe { &*seg_ptr };
        if seg.first_epoch() <= floor {
            break;
        }
        succ = seg_ptr;
        seg_ptr = seg.prev();
    }
    // SAFETY: as above.
    let seg = unsafe { &*seg_ptr };
    let j = seg.search(floor);

    let older = seg.prev();
    if !older.is_null() {
        seg.set_prev(std::ptr::null_mut());
        out.push(Retired::Chain(older));
    }

    // Rewrite the segment if at least half of what it holds is dead.
    let last = seg.last_claimed();
    if j == 0 || 2 * j < last + 1 {
        return;
    }
    let last = seg.freeze();
    // Acquire: pairs with `publish`.
    let tag = seg.tag(last).load(Ordering::Acquire);
    if !is_ready(tag) || seg.epoch_of(tag) >= sealed {
        // A writer of an open epoch may still write in place; try again next pass. The
        // segment stays frozen, so its next append moves to a fresh, right-sized one.
        return;
    }
    let copy = Segment::copy_of(seg, j, last).into_raw();
    if succ.is_null() && !node.replace_tail(seg_ptr, copy) {
        // A writer appended a segment after ours (it found ours frozen) in the meantime.
        let mut p = node.tail();
        while succ.is_null() {
            assert!(!p.is_null(), "the segment being rewritten is still linked");
            // SAFETY: as above.
            let s = unsafe { &*p };
            if s.prev() == seg_ptr {
                succ = p;
            }
            p = s.prev();
        }
    }
    if !succ.is_null() {
        // SAFETY: as above.
        unsafe { &*succ }.set_prev(copy);
    }
    out.push(Retired::Prefix(seg_ptr, j));
}

#[cfg(all(test, not(snapstate_loom)))]
mod tests {
    use crate::{Error, SnapshotArray, SnapshotId};

    /// `compact` on an id whose `snap()` is in progress: the clock has handed the id out
    /// but the snap has not sealed it. Reproduced without timing by running the first half
    /// of `take_snapshot` (the clock bump) and stopping there, as a snapping thread
    /// descheduled before its seal. With no writer announced the wait is empty; a writer
    /// still inside the epoch makes `compact` wait exactly as a read does
    /// (`finish_sealing`, modelled by loom for the reads), which needs threads and timing
    /// to show here, so it is not.
    #[test]
    fn compact_finishes_a_snap_in_progress() {
        let array: SnapshotArray = SnapshotArray::new(1);
        array.set_state(0, 1).unwrap();
        array.snap();
        array.set_state(0, 2).unwrap();
        let e = array.inner.clock.close_epoch();
        assert_eq!(e, 1);
        assert_eq!(
            array.inner.clock.sealed(),
            1,
            "the snap of 1 is in progress"
        );

        // Taken by every count, sealed or not.
        assert_eq!(array.snapshots_taken(), 2);
        assert_eq!(array.stats().snapshots_taken, 2);
        assert!(format!("{array:?}").contains("snapshots_taken: 2"));

        let id = SnapshotId::from(e);
        assert_eq!(array.compact(id).unwrap(), id);
        assert_eq!(array.inner.clock.sealed(), 2, "compact sealed it");
        assert_eq!(array.fetch_state(0, id).unwrap(), 2);
        assert!(matches!(
            array.fetch_state(0, SnapshotId::from(0)),
            Err(Error::Compacted { .. })
        ));
        assert!(matches!(
            array.compact(SnapshotId::from(2)),
            Err(Error::SnapshotNotTaken { taken: 2, .. })
        ));

        // The stopped snapper resumes: its seal changes nothing (`fetch_max`).
        array.inner.clock.seal(e);
        assert_eq!(array.inner.clock.sealed(), 2);
        assert_eq!(array.snap().get(), 2);
    }
}
