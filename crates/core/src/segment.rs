//! One segment of a node's version log: a fixed run of slots that never moves.
//!
//! A node's log is a chain of segments, newest first, each linked to the one before it.
//! A segment is created full-sized with its first slot already written, then published
//! by a CAS on the node's tail pointer; its slots are claimed one at a time after that.
//! Segments grow geometrically, so the chain is `O(log versions)` long.
//!
//! # Slots
//!
//! Slot `i` is two atomic words: a *tag* (tags of all slots are contiguous, so a binary
//! search touches few cache lines) and a *word* holding the value (see `word`).
//!
//! | tag bits | meaning |
//! |---|---|
//! | all zero | `EMPTY`: never claimed |
//! | `63..2` | `epoch + 1`: the epoch whose state this slot holds |
//! | `1` | reserved, zero |
//! | `0` | `READY`: the word has been written; readers may use the slot |
//!
//! Invariants, each kept by the writer protocol in `node`:
//! 1. Tags go `EMPTY -> pending(e)` by one CAS (the claim), then `-> ready(e)` by stores
//!    that all write the same value. The epoch of a claimed slot never changes.
//! 2. Claimed slots form a prefix of the segment, and their epochs strictly increase
//!    along the chain (one slot per epoch per node), so "the last slot with epoch <= s"
//!    is a binary search.
//! 3. Slot 0 is ready before the segment is published.
//! 4. A slot is pending only while its claimer (or a same-epoch helper) is announced in
//!    its epoch, so no sealed snapshot ever meets a pending slot.

use std::marker::PhantomData;

use crate::sync::{zeroed_lines, AtomicPtr, AtomicU64, AtomicUsize, Line, Ordering};

pub(crate) const EMPTY: u64 = 0;
const READY: u64 = 1;
const FLAG_BITS: u32 = 2;

/// The tag of a slot claimed for epoch `e` whose word is not written yet.
#[inline]
pub(crate) const fn pending(e: u64) -> u64 {
    (e + 1) << FLAG_BITS
}

/// The tag of a readable slot of epoch `e`.
#[inline]
pub(crate) const fn ready(e: u64) -> u64 {
    pending(e) | READY
}

#[inline]
pub(crate) const fn is_ready(tag: u64) -> bool {
    tag & READY != 0
}

/// The epoch of a claimed tag.
#[inline]
pub(crate) const fn epoch_of(tag: u64) -> u64 {
    debug_assert!(tag != EMPTY);
    (tag >> FLAG_BITS) - 1
}

/// Whether a slot with this tag holds a version visible at snapshot `s`.
#[inline]
const fn visible_at(tag: u64, s: u64) -> bool {
    // EMPTY sorts after every epoch: unclaimed slots are never visible.
    tag != EMPTY && epoch_of(tag) <= s
}

/// Smallest segment; a multiple of 4 so tags and words fill whole cache lines.
pub(crate) const MIN_CAP: usize = 4;
/// Largest segment (16 Mi slots, 256 MiB); past it the chain grows by whole segments.
pub(crate) const MAX_CAP: usize = 1 << 24;

/// One run of slots. Aligned so no two segments' headers share a cache line.
#[repr(align(64))]
#[derive(Debug)]
pub(crate) struct Segment<T> {
    /// `cap` tags, then `cap` words.
    lines: Box<[Line]>,
    cap: usize,
    /// A claimed index at or before the last claimed one (a hint: readers and writers
    /// scan forward from it to the first `EMPTY` tag).
    hint: AtomicUsize,
    /// The segment before this one, or null for the oldest.
    prev: AtomicPtr<Segment<T>>,
    _values: PhantomData<T>,
}

impl<T> Segment<T> {
    /// A segment of `cap` slots whose slot 0 holds `word` for epoch `e`, linked to `prev`.
    pub(crate) fn new(cap: usize, prev: *mut Segment<T>, e: u64, word: u64) -> Box<Self> {
        debug_assert!(cap >= MIN_CAP && cap.is_multiple_of(4));
        let seg = Box::new(Segment {
            lines: zeroed_lines(cap / 4),
            cap,
            hint: AtomicUsize::new(0),
            prev: AtomicPtr::new(prev),
            _values: PhantomData,
        });
        // Relaxed: the segment is private until the Release CAS that publishes it.
        seg.word(0).store(word, Ordering::Relaxed);
        seg.tag(0).store(ready(e), Ordering::Relaxed);
        seg
    }

    #[inline]
    fn cell(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i / 8 < self.lines.len());
        // SAFETY: callers pass `i < 2 * cap` (tags are `0..cap`, words `cap..2 * cap`),
        // and `lines` holds `cap / 4` lines of 8 cells, so `i / 8 < lines.len()`.
        unsafe { self.lines.get_unchecked(i / 8).0.get_unchecked(i % 8) }
    }

    /// The tag of slot `i`. Panics (in every build) if `i >= cap`, since `cell` trusts it.
    #[inline]
    pub(crate) fn tag(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.cap);
        self.cell(i)
    }

    /// The word of slot `i`. Panics if `i >= cap`.
    #[inline]
    pub(crate) fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.cap);
        self.cell(self.cap + i)
    }

    #[inline]
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    #[inline]
    pub(crate) fn prev(&self) -> *mut Segment<T> {
        // Acquire: pairs with the Release publication of the previous segment (its own
        // tail CAS happened before this segment was created from it).
        self.prev.load(Ordering::Acquire)
    }

    /// The epoch of slot 0 (written before publication, never changed).
    #[inline]
    pub(crate) fn first_epoch(&self) -> u64 {
        // Relaxed: slot 0's tag was written before the segment was published, and the
        // caller reached this segment through an Acquire load of that publication.
        epoch_of(self.tag(0).load(Ordering::Relaxed))
    }

    /// A claimed index at or before the last claimed one.
    #[inline]
    pub(crate) fn hint(&self) -> usize {
        // Relaxed: a hint only; every use re-reads the tags it relies on. It is stored
        // only after the claim of that index, and never beyond `cap - 1`.
        self.hint.load(Ordering::Relaxed)
    }

    /// Whether no slot after the claimed slot `i` has been claimed.
    #[inline]
    pub(crate) fn is_last(&self, i: usize) -> bool {
        // Acquire: pairs with the AcqRel claim CAS, so a claimed epoch is visible.
        i + 1 == self.cap || self.tag(i + 1).load(Ordering::Acquire) == EMPTY
    }

    /// The index of the last claimed slot.
    #[inline]
    pub(crate) fn last_claimed(&self) -> usize {
        let mut i = self.hint();
        while !self.is_last(i) {
            i += 1;
        }
        i
    }

    /// Records that slot `i` is claimed.
    #[inline]
    pub(crate) fn set_hint(&self, i: usize) {
        // Relaxed: a hint; racing stores may move it back, which only lengthens a scan.
        self.hint.store(i, Ordering::Relaxed);
    }

    /// Tries to claim the empty slot `i` for epoch `e`.
    #[inline]
    pub(crate) fn claim(&self, i: usize, e: u64) -> bool {
        // AcqRel: Release makes the claimed epoch visible with the slot; Acquire (also on
        // failure) pairs with a rival claimer so its epoch is visible to the retry.
        self.tag(i)
            .compare_exchange(EMPTY, pending(e), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Marks slot `i`, claimed for `e`, readable.
    #[inline]
    pub(crate) fn publish(&self, i: usize, e: u64) {
        // Release: pairs with the Acquire tag loads of readers, so the word stored before
        // this is visible to whoever sees READY.
        self.tag(i).store(ready(e), Ordering::Release);
    }

    /// The index of the last slot visible at snapshot `s`.
    ///
    /// Requires `first_epoch() <= s`, so the answer exists.
    #[inline]
    pub(crate) fn search(&self, s: u64) -> usize {
        debug_assert!(self.first_epoch() <= s);
        // Binary search over the tags for the first slot not visible at `s`. Visibility
        // is monotone along the slots (invariant 2, and EMPTY after every claim).
        let (mut lo, mut hi) = (1, self.cap);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            // Acquire: pairs with `publish`, so the chosen slot's word is visible.
            if visible_at(self.tag(mid).load(Ordering::Acquire), s) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo - 1
    }

    /// The capacity for the segment that follows this one.
    pub(crate) fn next_cap(&self) -> usize {
        (self.cap * 2).min(MAX_CAP)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn tags_order_by_epoch_and_keep_flags_apart() {
        assert_eq!(epoch_of(pending(0)), 0);
        assert_eq!(epoch_of(ready(41)), 41);
        assert!(!is_ready(pending(3)) && is_ready(ready(3)));
        assert!(ready(3) < pending(4));
        assert!(visible_at(ready(3), 3) && !visible_at(ready(4), 3));
        assert!(!visible_at(EMPTY, u64::MAX >> 3));
    }

    #[test]
    fn search_finds_last_visible_slot_and_skips_empty_tail() {
        let seg = Segment::<u64>::new(8, std::ptr::null_mut(), 2, 20);
        for (i, e) in [(1, 5), (2, 9)] {
            assert!(seg.claim(i, e));
            seg.word(i).store(e * 10, Ordering::Relaxed);
            seg.publish(i, e);
        }
        assert_eq!(seg.last_claimed(), 2);
        assert_eq!(seg.search(2), 0);
        assert_eq!(seg.search(4), 0);
        assert_eq!(seg.search(5), 1);
        assert_eq!(seg.search(8), 1);
        assert_eq!(seg.search(9), 2);
        assert_eq!(seg.search(1000), 2);
        assert!(!seg.claim(2, 10), "a claimed slot cannot be claimed again");
    }
}
