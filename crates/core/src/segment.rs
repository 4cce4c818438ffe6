//! One segment of a node's version log: a fixed run of slots that never moves.
//!
//! A node's log is a chain of segments, newest first, each linked to the one before it.
//! A segment is created full-sized with its first slot already written, then published
//! by a CAS on the node's tail pointer (or, by compaction, on its successor's `prev`); its
//! slots are claimed one at a time after that. New segments are sized from the number of
//! versions the chain holds, so without compaction they double (the chain is
//! `O(log versions)` long) and after compaction they stay small.
//!
//! # Slots
//!
//! Slot `i` is two atomic words: a *tag* (tags of all slots are contiguous, so a binary
//! search touches few cache lines) and a *word* holding the value (see `word`).
//!
//! | tag bits | meaning |
//! |---|---|
//! | all zero | `EMPTY`: never claimed |
//! | `FROZEN` (all ones but bit 0) | never to be claimed: compaction closed the segment |
//! | `63..2` | `epoch + 1`: the epoch whose state this slot holds |
//! | `1` | `MAX`: claimed by `advance`; a raise of an earlier slot propagates into it |
//! | `0` | `READY`: the word has been written; readers may use the slot |
//!
//! Invariants, each kept by the writer protocol in `node`:
//! 1. Tags go `EMPTY -> pending(e)` (with or without `MAX`) by one CAS (the claim), then
//!    to the same tag with `READY` by stores that all write the same value; or
//!    `EMPTY -> FROZEN` by compaction's CAS. A claimed slot's epoch and `MAX` bit never
//!    change.
//! 2. Claimed slots form a prefix of the segment (at most one `FROZEN` follows it), and
//!    their epochs strictly increase along the chain (one slot per epoch per node), so
//!    "the last slot with epoch <= s" is a binary search.
//! 3. Slot 0 is ready before the segment is published.
//! 4. A slot is pending only while its claimer (or a same-epoch helper) is announced in
//!    its epoch, so no sealed snapshot ever meets a pending slot.
//! 5. The word of a slot of a sealed epoch never changes again.

use std::marker::PhantomData;

use crate::sync::{zeroed_lines, AtomicPtr, AtomicU64, AtomicUsize, Line, Ordering};

pub(crate) const EMPTY: u64 = 0;
/// Closes an unclaimed slot (and so the segment) to writers. Not ready, and its epoch
/// field is past every epoch a snapshot can have, so no search ever selects it.
pub(crate) const FROZEN: u64 = !READY;
const READY: u64 = 1;
/// Set on slots claimed by `advance`.
pub(crate) const MAX: u64 = 2;
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

#[inline]
pub(crate) const fn is_max(tag: u64) -> bool {
    tag & MAX != 0 && tag != FROZEN
}

/// Whether a tag belongs to a claimed slot (pending or ready).
#[inline]
pub(crate) const fn is_claimed(tag: u64) -> bool {
    tag != EMPTY && tag != FROZEN
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
    // EMPTY and FROZEN sort after every epoch: unclaimed slots are never visible.
    is_claimed(tag) && epoch_of(tag) <= s
}

/// Smallest segment; a multiple of 4 so tags and words fill whole cache lines.
pub(crate) const MIN_CAP: usize = 4;
/// Largest segment (16 Mi slots, 256 MiB); past it the chain grows by whole segments.
pub(crate) const MAX_CAP: usize = 1 << 24;

/// The capacity for a segment that must hold `versions` versions and room to grow:
/// the next power of two at or above twice that, within `MIN_CAP..=MAX_CAP`.
pub(crate) fn cap_for(versions: usize) -> usize {
    versions
        .saturating_mul(2)
        .checked_next_power_of_two()
        .unwrap_or(MAX_CAP)
        .clamp(MIN_CAP, MAX_CAP)
}

/// One run of slots. Aligned so no two segments' headers share a cache line.
#[repr(align(64))]
#[derive(Debug)]
pub(crate) struct Segment<T> {
    /// `cap` tags, then `cap` words.
    lines: Box<[Line]>,
    cap: usize,
    /// A claimed index at or before the last claimed one (a hint: readers and writers
    /// scan forward from it to the first unclaimed tag).
    hint: AtomicUsize,
    /// The segment before this one, or null for the oldest.
    prev: AtomicPtr<Segment<T>>,
    _values: PhantomData<T>,
}

impl<T> Segment<T> {
    fn empty(cap: usize, prev: *mut Segment<T>) -> Box<Self> {
        debug_assert!(cap >= MIN_CAP && cap.is_multiple_of(4));
        Box::new(Segment {
            lines: zeroed_lines(cap / 4),
            cap,
            hint: AtomicUsize::new(0),
            prev: AtomicPtr::new(prev),
            _values: PhantomData,
        })
    }

    /// A segment of `cap` slots whose slot 0 holds `word` for epoch `e`, linked to `prev`.
    pub(crate) fn new(cap: usize, prev: *mut Segment<T>, e: u64, word: u64) -> Box<Self> {
        let seg = Self::empty(cap, prev);
        // Relaxed: the segment is private until the Release CAS that publishes it.
        seg.word(0).store(word, Ordering::Relaxed);
        seg.tag(0).store(ready(e), Ordering::Relaxed);
        seg
    }

    /// A segment holding copies of `from`'s ready slots `first..=last` as its slots
    /// `0..`, with no predecessor. Used by compaction on sealed slots only.
    pub(crate) fn copy_of(from: &Segment<T>, first: usize, last: usize) -> Box<Self> {
        let seg = Self::empty(cap_for(last - first + 1), std::ptr::null_mut());
        for (to, i) in (first..=last).enumerate() {
            // Acquire: pairs with `publish`; these slots are sealed, so stable.
            let tag = from.tag(i).load(Ordering::Acquire);
            debug_assert!(is_ready(tag));
            // Relaxed: the copy is private until compaction publishes it (Release).
            seg.word(to)
                .store(from.word(i).load(Ordering::Acquire), Ordering::Relaxed);
            seg.tag(to).store(tag, Ordering::Relaxed);
        }
        seg.hint.store(last - first, Ordering::Relaxed);
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

    /// Bytes this segment occupies (header and slots).
    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.lines)
    }

    #[inline]
    pub(crate) fn prev(&self) -> *mut Segment<T> {
        // Acquire: pairs with the Release that published the previous segment (its
        // creator's tail CAS, or compaction's `set_prev`), so it is initialised.
        self.prev.load(Ordering::Acquire)
    }

    /// Relinks this segment's predecessor (compaction only, under its lock).
    pub(crate) fn set_prev(&self, prev: *mut Segment<T>) {
        // Release: publishes a rewritten predecessor to readers' Acquire `prev()` loads.
        self.prev.store(prev, Ordering::Release);
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
        i + 1 == self.cap || !is_claimed(self.tag(i + 1).load(Ordering::Acquire))
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

    /// Tries to claim the empty slot `i` with the pending tag `tag` (`pending(e)`,
    /// maybe with `MAX`). Fails if `i` is claimed or frozen.
    #[inline]
    pub(crate) fn claim(&self, i: usize, tag: u64) -> bool {
        debug_assert!(is_claimed(tag) && !is_ready(tag));
        // AcqRel: Release makes the claimed epoch visible with the slot; Acquire (also on
        // failure) pairs with a rival claimer so its epoch is visible to the retry.
        self.tag(i)
            .compare_exchange(EMPTY, tag, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Closes the segment to new claims and returns its last claimed index.
    ///
    /// Freezes the first unclaimed slot (if any) with a CAS, so the claimed prefix can
    /// no longer grow; a writer that then wants to append installs a new segment.
    pub(crate) fn freeze(&self) -> usize {
        loop {
            let last = self.last_claimed();
            if last + 1 == self.cap {
                return last;
            }
            // AcqRel: Acquire on failure pairs with a claimer's CAS, so the retry sees
            // its epoch; Release orders nothing in particular but keeps the tag's
            // modifications a single release sequence.
            match self.tag(last + 1).compare_exchange(
                EMPTY,
                FROZEN,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return last,
                Err(FROZEN) => return last,
                Err(_) => continue,
            }
        }
    }

    /// Marks slot `i`, claimed with the pending tag `tag`, readable.
    #[inline]
    pub(crate) fn publish(&self, i: usize, tag: u64) {
        // Release: pairs with the Acquire tag loads of readers, so the word stored before
        // this is visible to whoever sees READY.
        self.tag(i).store(tag | READY, Ordering::Release);
    }

    /// The index of the last slot visible at snapshot `s`.
    ///
    /// Requires `first_epoch() <= s`, so the answer exists.
    #[inline]
    pub(crate) fn search(&self, s: u64) -> usize {
        debug_assert!(self.first_epoch() <= s);
        // Binary search over the tags for the first slot not visible at `s`. Visibility
        // is monotone along the slots (invariant 2; unclaimed slots come last).
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

    /// Releases the words of slots `range` (claimed ones) with `release`.
    ///
    /// # Safety
    ///
    /// The caller owns those words: no thread can reach this segment any more, and no
    /// other segment holds copies of them.
    pub(crate) unsafe fn release_words(
        &self,
        range: std::ops::Range<usize>,
        release: unsafe fn(u64),
    ) {
        for i in range {
            // Relaxed: the caller has exclusive access.
            if is_claimed(self.tag(i).load(Ordering::Relaxed)) {
                // SAFETY: forwarded from the caller.
                unsafe { release(self.word(i).load(Ordering::Relaxed)) };
            }
        }
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
        assert!(!visible_at(EMPTY, crate::clock::MAX_EPOCH));
        assert!(!visible_at(FROZEN, crate::clock::MAX_EPOCH - 1));
        assert!(!is_ready(FROZEN) && !is_claimed(FROZEN) && !is_claimed(EMPTY));
        assert!(!is_max(FROZEN) && is_max(ready(2) | MAX) && !is_max(ready(2)));
        assert_eq!(epoch_of(pending(7) | MAX), 7);
    }

    #[test]
    fn cap_for_doubles_and_clamps() {
        assert_eq!(cap_for(0), MIN_CAP);
        assert_eq!(cap_for(1), MIN_CAP);
        assert_eq!(cap_for(3), 8);
        assert_eq!(cap_for(4), 8);
        assert_eq!(cap_for(5), 16);
        assert_eq!(cap_for(usize::MAX), MAX_CAP);
    }

    #[test]
    fn search_finds_last_visible_slot_and_skips_empty_tail() {
        let seg = Segment::<u64>::new(8, std::ptr::null_mut(), 2, 20);
        for (i, e) in [(1, 5), (2, 9)] {
            assert!(seg.claim(i, pending(e)));
            seg.word(i).store(e * 10, Ordering::Relaxed);
            seg.publish(i, pending(e));
        }
        assert_eq!(seg.last_claimed(), 2);
        assert_eq!(seg.search(2), 0);
        assert_eq!(seg.search(4), 0);
        assert_eq!(seg.search(5), 1);
        assert_eq!(seg.search(8), 1);
        assert_eq!(seg.search(9), 2);
        assert_eq!(seg.search(1000), 2);
        assert!(
            !seg.claim(2, pending(10)),
            "a claimed slot cannot be claimed again"
        );
    }

    #[test]
    fn frozen_segments_take_no_claims_and_copies_keep_the_suffix() {
        let seg = Segment::<u64>::new(8, std::ptr::null_mut(), 1, 10);
        for (i, e) in [(1, 2), (2, 3)] {
            assert!(seg.claim(i, pending(e) | MAX));
            seg.word(i).store(e * 10, Ordering::Relaxed);
            seg.publish(i, pending(e) | MAX);
        }
        assert!(is_max(seg.tag(2).load(Ordering::Relaxed)));
        assert_eq!(epoch_of(seg.tag(2).load(Ordering::Relaxed)), 3);
        assert_eq!(seg.freeze(), 2);
        assert_eq!(seg.freeze(), 2, "freezing twice is harmless");
        assert!(!seg.claim(3, pending(4)));
        assert_eq!(seg.last_claimed(), 2);
        assert_eq!(seg.search(100), 2);
        let copy = Segment::copy_of(&seg, 1, 2);
        assert_eq!(copy.cap(), 4);
        assert_eq!(copy.first_epoch(), 2);
        assert_eq!(copy.last_claimed(), 1);
        assert_eq!(copy.word(copy.search(3)).load(Ordering::Relaxed), 30);
        assert!(copy.prev().is_null());
    }
}
