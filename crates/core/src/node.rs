//! One node's version log: the write protocol and the two reads.
//!
//! The log is a chain of [`Segment`]s reached from the node's `tail` pointer. All
//! mutation goes through atomics, so racing writers of one node are never a data race;
//! the protocol below makes every race resolve to a linearizable outcome.
//!
//! # Writing (the caller is announced in epoch `e`, see `announce`)
//!
//! Look at the last claimed slot of the tail segment; call its epoch `x`.
//! - `x == e`: overwrite its word in place (the epoch is still open, so no snapshot can
//!   have read it) and, if it was still pending, mark it ready on the claimer's behalf.
//! - `x < e`: claim the next slot with a CAS (`EMPTY -> pending(e)`), write the word,
//!   mark it ready. If the segment is full, build a new one with the value already in
//!   slot 0 and publish it with a CAS on `tail`. A lost CAS means another writer moved
//!   the log on: look again.
//! - `x > e`: this writer's epoch is stale (a writer of a later epoch got here first);
//!   hand the value back so the caller re-announces the current epoch.
//!
//! Each retry follows another writer's successful CAS, so the loop is lock-free; a
//! writer with no rival on its node finishes in one pass (wait-free).

use crossbeam_epoch::Guard;

use crate::segment::{epoch_of, is_ready, ready, Segment, MIN_CAP};
use crate::sync::{AtomicPtr, Ordering};
use crate::word::Word;

/// The head of one node's log.
#[derive(Debug)]
pub(crate) struct Node<T> {
    tail: AtomicPtr<Segment<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            tail: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Node<T> {
    /// The newest segment, or null for a node never written.
    #[inline]
    fn tail(&self) -> *mut Segment<T> {
        // Acquire: pairs with the Release of the CAS that published the segment, so its
        // slot 0 and header are initialised.
        self.tail.load(Ordering::Acquire)
    }

    /// Writes `word` as the node's state in epoch `e`.
    ///
    /// The caller must hold an announcement of `e` that `snap()` has seen or will see
    /// (the `announce` protocol), and for boxed values a pinned `guard` for deferring the
    /// replaced box. On `Err` the caller still owns `word`: the epoch was stale.
    #[inline]
    pub(crate) fn write(&self, e: u64, word: u64, guard: Option<&Guard>) -> Result<(), u64> {
        // The fast path, a second write to the node in the same epoch: exactly the
        // `x == e` case of `write_slow` when the hint is exact and the slot is ready.
        let seg_ptr = self.tail();
        if !seg_ptr.is_null() {
            // SAFETY: as in `write_slow`.
            let seg = unsafe { &*seg_ptr };
            let i = seg.hint();
            // Acquire: pairs with `publish` / the claim CAS, as in `write_slow`.
            if seg.tag(i).load(Ordering::Acquire) == ready(e) && seg.is_last(i) {
                Self::store_word(seg, i, word, guard);
                return Ok(());
            }
        }
        self.write_slow(e, word, guard)
    }

    /// The general write: see the module docs.
    #[cold]
    fn write_slow(&self, e: u64, word: u64, guard: Option<&Guard>) -> Result<(), u64> {
        loop {
            let seg_ptr = self.tail();
            if seg_ptr.is_null() {
                if self.install(seg_ptr, MIN_CAP, e, word) {
                    return Ok(());
                }
                continue;
            }
            // SAFETY: segments are freed only when the array is dropped (`&mut`), or by
            // compaction once unreachable from `tail` and past every writer announced
            // before it unlinked them; this writer loaded `seg_ptr` while announced.
            let seg = unsafe { &*seg_ptr };
            let i = seg.last_claimed();
            // Acquire: pairs with the claim CAS, so `x` is the slot's final epoch.
            let tag = seg.tag(i).load(Ordering::Acquire);
            let x = epoch_of(tag);
            if x > e {
                return Err(word);
            }
            if x == e {
                Self::store_word(seg, i, word, guard);
                if !is_ready(tag) {
                    seg.publish(i, e);
                }
                return Ok(());
            }
            if i + 1 < seg.cap() {
                if seg.claim(i + 1, e) {
                    Self::store_word(seg, i + 1, word, guard);
                    seg.publish(i + 1, e);
                    seg.set_hint(i + 1);
                    return Ok(());
                }
                continue;
            }
            if self.install(seg_ptr, seg.next_cap(), e, word) {
                return Ok(());
            }
        }
    }

    /// Stores `word` into slot `i`, deferring the drop of a replaced box.
    #[inline]
    fn store_word(seg: &Segment<T>, i: usize, word: u64, guard: Option<&Guard>) {
        if Word::<T>::is_inline() {
            // Release: pairs with the Acquire word loads of readers; nothing else is
            // published (the value is the word itself).
            seg.word(i).store(word, Ordering::Release);
        } else {
            // AcqRel: Release publishes the new box's contents to readers' Acquire
            // loads; Acquire makes the replaced box's contents ours to drop.
            let old = seg.word(i).swap(word, Ordering::AcqRel);
            if old != 0 {
                let guard = guard.expect("boxed values are written under a pinned guard");
                // SAFETY: `old` was swapped out, so no new reader can load it; readers
                // that loaded it earlier are pinned, and the collector runs this only
                // after they unpin. `T: Send + 'static`, so dropping it elsewhere is fine.
                guard.defer(move || unsafe { Word::<T>::release(old) });
            }
        }
    }

    /// Publishes a new segment after `prev` (null for the first) with `word` in slot 0.
    /// Returns false, still owning `word`, if another writer moved the tail first.
    fn install(&self, prev: *mut Segment<T>, cap: usize, e: u64, word: u64) -> bool {
        let fresh = Box::into_raw(Segment::new(cap, prev, e, word));
        // AcqRel: Release publishes the initialised segment to `tail()` loads; Acquire on
        // failure pairs with the winner's publication before we look at it.
        match self
            .tail
            .compare_exchange(prev, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(_) => {
                // SAFETY: the CAS failed, so `fresh` was never shared. Dropping the segment
                // does not release slot 0's word, which the caller still owns.
                drop(unsafe { Box::from_raw(fresh) });
                false
            }
        }
    }

    /// The word of the version visible at sealed snapshot `s`, or `None` if the node had
    /// no version yet at `s`.
    ///
    /// `s` must be sealed: no writer announced at or below `s` is still running.
    pub(crate) fn read_at(&self, s: u64, _guard: &Guard) -> Option<u64> {
        let mut seg_ptr = self.tail();
        while !seg_ptr.is_null() {
            // SAFETY: reached from `tail` under a pinned guard; segments are retired
            // through the array's collector after they are unlinked, never before.
            let seg = unsafe { &*seg_ptr };
            if seg.first_epoch() <= s {
                let i = seg.search(s);
                // Acquire: pairs with the Release word stores, for boxed contents.
                return Some(seg.word(i).load(Ordering::Acquire));
            }
            seg_ptr = seg.prev();
        }
        None
    }

    /// The word of the newest ready version, or `None` for a node never written.
    pub(crate) fn read_current(&self, _guard: &Guard) -> Option<u64> {
        let seg_ptr = self.tail();
        if seg_ptr.is_null() {
            return None;
        }
        // SAFETY: as in `read_at`.
        let seg = unsafe { &*seg_ptr };
        let mut i = seg.last_claimed();
        // Slot 0 is ready before publication, so the walk ends within this segment;
        // every pending slot it passes belongs to a writer still in flight.
        // Acquire: pairs with `publish`, so the word written before READY is visible.
        while !is_ready(seg.tag(i).load(Ordering::Acquire)) {
            i -= 1;
        }
        // Acquire: pairs with the Release word stores, for boxed contents.
        Some(seg.word(i).load(Ordering::Acquire))
    }
}

impl<T> Node<T> {
    /// Frees the whole log. Runs only with exclusive access (the array's `Drop`).
    pub(crate) fn free(&mut self, release: unsafe fn(u64)) {
        // Relaxed: exclusive access (loom's atomics have no `get_mut`).
        let mut seg_ptr = self.tail.load(Ordering::Relaxed);
        while !seg_ptr.is_null() {
            // SAFETY: exclusive access; every segment in the chain was published by
            // `install` from a `Box` and is reachable exactly once.
            let seg = unsafe { Box::from_raw(seg_ptr) };
            for i in 0..seg.cap() {
                // Relaxed: exclusive access.
                if seg.tag(i).load(Ordering::Relaxed) != crate::segment::EMPTY {
                    // SAFETY: every claimed slot's word was encoded by the writers of this
                    // array and is owned by the log alone now.
                    unsafe { release(seg.word(i).load(Ordering::Relaxed)) };
                }
            }
            seg_ptr = seg.prev();
        }
    }
}
