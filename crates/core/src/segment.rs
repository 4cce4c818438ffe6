//! One segment of a node's version log: a fixed run of slots that never moves.
//!
//! A node's log is a chain of segments, newest first, each linked to the one before it.
//! A segment is created full-sized with its first slot already written, then published
//! by a CAS on the node's tail pointer (or, by compaction, on its successor's `prev`); its
//! slots are claimed one at a time after that. A new segment holds as many slots as its
//! node's chain already holds (so without compaction the capacity doubles and the chain
//! is `O(log versions)` long; after compaction it stays small).
//!
//! # Slots
//!
//! Slot `i` is a 32-bit *tag* and a 64-bit *word* holding the value (see `word`). Tags of
//! all slots are contiguous (16 per cache line), so a binary search touches few lines, and
//! a slot costs 12 bytes.
//!
//! A tag stores its epoch relative to the segment's *base*, the epoch of slot 0:
//!
//! | tag bits | meaning |
//! |---|---|
//! | all zero | `EMPTY`: never claimed |
//! | `FROZEN` (all ones but bit 0) | never to be claimed: compaction closed the segment |
//! | `31..2` | `epoch - base + 1` (at most `SPAN`) |
//! | `1` | `MAX`: claimed by `advance`; a raise of an earlier slot propagates into it |
//! | `0` | `READY`: the word has been written; readers may use the slot |
//!
//! An epoch too far past the base to fit is appended to a new segment instead.
//!
//! Invariants, each kept by the writer protocol in `node`:
//! 1. Tags go `EMPTY -> pending` (with or without `MAX`) by one CAS (the claim), then to
//!    the same tag with `READY` by stores that all write the same value; or
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
use std::ptr::NonNull;

use crate::slots::Slots;
use crate::sync::{prefetch, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

pub(crate) const EMPTY: u32 = 0;
/// Closes an unclaimed slot (and so the segment) to writers. Not ready, and its epoch
/// field is past `SPAN`, so no search ever selects it.
pub(crate) const FROZEN: u32 = !READY;
const READY: u32 = 1;
/// Set on slots claimed by `advance`.
pub(crate) const MAX: u32 = 2;
const FLAG_BITS: u32 = 2;
/// The largest `epoch - base` a tag can hold (its field, `+ 1`, stays below `FROZEN`'s).
const SPAN: u64 = (1 << (32 - FLAG_BITS)) - 3;

#[inline]
pub(crate) const fn is_ready(tag: u32) -> bool {
    tag & READY != 0
}

#[inline]
pub(crate) const fn is_max(tag: u32) -> bool {
    tag & MAX != 0 && tag != FROZEN
}

/// Whether a tag belongs to a claimed slot (pending or ready).
#[inline]
pub(crate) const fn is_claimed(tag: u32) -> bool {
    tag != EMPTY && tag != FROZEN
}

/// The epoch offset (`epoch - base`) of a claimed tag.
#[inline]
const fn offset_of(tag: u32) -> u64 {
    debug_assert!(is_claimed(tag));
    ((tag >> FLAG_BITS) - 1) as u64
}

/// The `width` for [`is_visible`] at offset `limit` (`s - base`).
#[inline]
const fn width_at(limit: u64) -> u32 {
    let limit = if limit < SPAN { limit } else { SPAN };
    ((limit as u32) + 1) << FLAG_BITS
}

/// Whether `tag` is claimed with `offset_of(tag) <= limit`, for `width = width_at(limit)`.
#[inline]
const fn is_visible(tag: u32, width: u32) -> bool {
    tag.wrapping_sub(1 << FLAG_BITS) < width
}

/// Smallest segment; a multiple of 4 so tags and words fill whole cache lines.
pub(crate) const MIN_CAP: usize = 4;
/// Largest segment (16 Mi slots, 192 MiB); past it the chain grows by whole segments.
pub(crate) const MAX_CAP: usize = 1 << 24;
/// `search` prefetches the next probes while more than this many tags (two 64-byte
/// lines) remain.
const PREFETCH_ABOVE: usize = 32;

/// The capacity for a segment that must hold `versions` versions: the next power of two
/// at or above that, within `MIN_CAP..=MAX_CAP`.
pub(crate) fn cap_for(versions: usize) -> usize {
    versions
        .checked_next_power_of_two()
        .unwrap_or(MAX_CAP)
        .clamp(MIN_CAP, MAX_CAP)
}

/// One run of slots: the header of a segment, which on std sits at the start of the one
/// block that also holds its slots (see `Slots`). Owned through [`Owned`] until it is
/// published as a raw pointer, and freed with [`Segment::free`].
#[derive(Debug)]
pub(crate) struct Segment<T> {
    slots: Slots,
    cap: usize,
    /// The epoch of slot 0; tags hold epochs relative to it.
    base: u64,
    /// A claimed index at or before the last claimed one (a hint: readers and writers
    /// scan forward from it to the first unclaimed tag). Release/Acquire, so whoever
    /// reads it also sees that slot's claim.
    hint: AtomicUsize,
    /// The segment before this one, or null for the oldest.
    prev: AtomicPtr<Segment<T>>,
    _values: PhantomData<T>,
}

/// A segment not yet published (or taken back): frees it on drop. The words it holds
/// are not released (see `release_words`).
pub(crate) struct Owned<T>(NonNull<Segment<T>>);

impl<T> Owned<T> {
    /// Gives up ownership: the caller publishes the pointer and frees it later with
    /// [`Owned::from_raw`].
    pub(crate) fn into_raw(self) -> *mut Segment<T> {
        let ptr = self.0.as_ptr();
        std::mem::forget(self);
        ptr
    }

    /// Takes back a segment from [`Owned::into_raw`].
    ///
    /// # Safety
    ///
    /// `ptr` came from `into_raw`, is not owned elsewhere, and no other thread can reach
    /// it any more.
    pub(crate) unsafe fn from_raw(ptr: *mut Segment<T>) -> Self {
        // SAFETY: non-null, from `into_raw` (caller).
        Owned(unsafe { NonNull::new_unchecked(ptr) })
    }
}

impl<T> std::ops::Deref for Owned<T> {
    type Target = Segment<T>;

    fn deref(&self) -> &Segment<T> {
        // SAFETY: owned and initialised (`Segment::alloc`), freed only by our drop.
        unsafe { self.0.as_ref() }
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: we own the segment, so nothing else refers to it.
        unsafe { Segment::free(self.0.as_ptr()) };
    }
}

impl<T> Segment<T> {
    /// A fresh segment of `cap` slots, all empty.
    fn alloc(cap: usize, base: u64, hint: usize, prev: *mut Segment<T>) -> Owned<T> {
        #[cfg(not(snapstate_loom))]
        let (block, slots) = Slots::alloc(std::mem::size_of::<Self>(), cap);
        #[cfg(snapstate_loom)]
        let slots = Slots::new(cap);
        let header = Segment {
            slots,
            cap,
            base,
            hint: AtomicUsize::new(hint),
            prev: AtomicPtr::new(prev),
            _values: PhantomData,
        };
        #[cfg(not(snapstate_loom))]
        {
            let seg = block.cast::<Self>();
            // SAFETY: `block` is fresh, at least 16-aligned (`Slots::layout`; Segment
            // needs 8) and starts with `size_of::<Self>()` bytes for this header.
            unsafe { seg.as_ptr().write(header) };
            Owned(seg)
        }
        #[cfg(snapstate_loom)]
        Owned(NonNull::from(Box::leak(Box::new(header))))
    }

    /// Frees a segment made by `alloc` (its header and slots, not the words' boxes).
    ///
    /// # Safety
    ///
    /// `seg` came from `alloc`, is not freed yet, and nothing refers to it any more.
    unsafe fn free(seg: *mut Self) {
        #[cfg(not(snapstate_loom))]
        {
            // SAFETY: the header is initialised (`alloc`); nothing refers to it (caller).
            let cap = unsafe { (*seg).cap };
            // SAFETY: as above; the header is dropped in place before its block goes.
            unsafe { std::ptr::drop_in_place(seg) };
            // SAFETY: the block was made by `Slots::alloc` with this header's size and
            // `cap`; `seg` is that block pointer, cast, so it keeps the block's provenance.
            unsafe {
                Slots::free(
                    NonNull::new_unchecked(seg.cast()),
                    std::mem::size_of::<Self>(),
                    cap,
                )
            };
        }
        #[cfg(snapstate_loom)]
        // SAFETY: made by `Box::leak` in `alloc`; nothing refers to it (caller).
        drop(unsafe { Box::from_raw(seg) });
    }

    /// A segment of `cap` slots whose slot 0 holds `word` for epoch `e` (ready, with the
    /// extra tag `flags`), linked to `prev`.
    pub(crate) fn create(
        cap: usize,
        prev: *mut Segment<T>,
        e: u64,
        flags: u32,
        word: u64,
    ) -> Owned<T> {
        debug_assert!(cap >= MIN_CAP && cap.is_multiple_of(4) && flags & !MAX == 0);
        let seg = Self::alloc(cap, e, 0, prev);
        // Relaxed: the segment is private until the Release CAS that publishes it.
        seg.word(0).store(word, Ordering::Relaxed);
        seg.tag(0).store(
            seg.pending(e).expect("offset 0") | flags | READY,
            Ordering::Relaxed,
        );
        seg
    }

    /// A segment holding copies of `from`'s ready slots `first..=last` as its slots
    /// `0..`, with no predecessor. Used by compaction on sealed slots only.
    pub(crate) fn copy_of(from: &Segment<T>, first: usize, last: usize) -> Owned<T> {
        let live = last - first + 1;
        // Acquire: pairs with `publish`; these slots are sealed, so stable.
        let first_tag = from.tag(first).load(Ordering::Acquire);
        let base = from.epoch_of(first_tag);
        let seg = Self::alloc(cap_for(live * 2), base, live - 1, std::ptr::null_mut());
        for (to, i) in (first..=last).enumerate() {
            // Acquire: as above.
            let tag = from.tag(i).load(Ordering::Acquire);
            debug_assert!(is_ready(tag));
            let flags = tag & (MAX | READY);
            let retagged = seg.pending(from.epoch_of(tag)).expect("later epochs fit") | flags;
            // Relaxed: the copy is private until compaction publishes it (Release).
            seg.word(to)
                .store(from.word(i).load(Ordering::Acquire), Ordering::Relaxed);
            seg.tag(to).store(retagged, Ordering::Relaxed);
        }
        seg
    }

    /// The pending tag (no flags) for epoch `e` in this segment, if `e` fits.
    #[inline]
    pub(crate) fn pending(&self, e: u64) -> Option<u32> {
        let offset = e.checked_sub(self.base)?;
        (offset <= SPAN).then(|| ((offset + 1) as u32) << FLAG_BITS)
    }

    /// The ready tag (no `MAX`) for epoch `e`, if `e` fits.
    #[inline]
    pub(crate) fn ready(&self, e: u64) -> Option<u32> {
        self.pending(e).map(|t| t | READY)
    }

    /// The epoch of a claimed tag of this segment.
    #[inline]
    pub(crate) fn epoch_of(&self, tag: u32) -> u64 {
        self.base + offset_of(tag)
    }

    /// The tag of slot `i`. Panics (in every build) if `i >= cap`.
    #[inline]
    pub(crate) fn tag(&self, i: usize) -> &AtomicU32 {
        assert!(i < self.cap);
        // SAFETY: `i < cap`, the capacity of `slots`.
        unsafe { self.slots.tag(i) }
    }

    /// The word of slot `i`. Panics if `i >= cap`.
    #[inline]
    pub(crate) fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < self.cap);
        // SAFETY: `i < cap`, the capacity of `slots`.
        unsafe { self.slots.word(i) }
    }

    #[inline]
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Bytes this segment occupies (header and slots).
    pub(crate) fn bytes(&self) -> usize {
        #[cfg(not(snapstate_loom))]
        return Slots::bytes(std::mem::size_of::<Self>(), self.cap);
        #[cfg(snapstate_loom)]
        return std::mem::size_of::<Self>() + self.slots.bytes();
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

    /// The epoch of slot 0 (fixed at creation).
    #[inline]
    pub(crate) fn first_epoch(&self) -> u64 {
        self.base
    }

    /// A claimed index at or before the last claimed one.
    #[inline]
    pub(crate) fn hint(&self) -> usize {
        // Acquire: pairs with the Release in `set_hint`, so the claim of the slot it names
        // (and, through the claimers' own Acquire tag loads, of every slot before it) is
        // visible: `last_claimed` and the fast write path read the tag at the hint and
        // rely on it being claimed. (It was Relaxed once: Miri's weak-memory emulation
        // then let a thread see the hint before the claim, read an EMPTY tag there and
        // trip `offset_of`'s assertion in `write_slow`.) A plain load on x86. It is
        // stored only after the claim of that index, and never beyond `cap - 1`.
        self.hint.load(Ordering::Acquire)
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
        // Release: pairs with the Acquire in `hint`, publishing the claim of slot `i`
        // (made before this store) with the index. Racing stores may move it back, which
        // only lengthens a scan. A plain store on x86.
        self.hint.store(i, Ordering::Release);
    }

    /// Tries to claim the empty slot `i` with the pending tag `tag` (from
    /// [`Segment::pending`], maybe with `MAX`). Fails if `i` is claimed or frozen.
    #[inline]
    pub(crate) fn claim(&self, i: usize, tag: u32) -> bool {
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
            // its epoch; Release keeps the tag's modifications one release sequence.
            match self.tag(last + 1).compare_exchange(
                EMPTY,
                FROZEN,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) | Err(FROZEN) => return last,
                Err(_) => continue,
            }
        }
    }

    /// Marks slot `i`, claimed with the pending tag `tag`, readable.
    #[inline]
    pub(crate) fn publish(&self, i: usize, tag: u32) {
        // Release: pairs with the Acquire tag loads of readers, so the word stored before
        // this is visible to whoever sees READY.
        self.tag(i).store(tag | READY, Ordering::Release);
    }

    /// The index of the last slot visible at snapshot `s`.
    ///
    /// Requires `first_epoch() <= s`, so the answer exists.
    #[inline]
    pub(crate) fn search(&self, s: u64) -> usize {
        debug_assert!(self.base <= s);
        // Binary search over the claimed slots for the last one visible at `s`.
        // Visibility is monotone along the slots (invariant 2). Every slot visible at the
        // sealed `s` was claimed and published before the seal this reader saw, so its
        // tag reads as claimed here, and the scan from the hint in `last_claimed` passes
        // it; the bound keeps the probes off the tail's empty lines (a partly filled tail
        // is where most reads of recent snapshots land). Every slot below the bound reads
        // as claimed (the hint is Acquire, see `hint`); the test still treats `EMPTY` and
        // `FROZEN` as not visible, so a wrong hint could only cost a probe, never a wrong
        // answer.
        let tags = &self.slots.tags()[..self.last_claimed() + 1];
        // A tag is visible at `s` when it is claimed with `offset <= s - base`: its field
        // (`offset + 1`) is in `1..=limit + 1`, whatever its flags, so the tag itself is
        // in `[1 << FLAG_BITS, (limit + 2) << FLAG_BITS)`: one wrapping subtraction and
        // one unsigned comparison. Clamping `limit` to `SPAN` changes nothing for claimed
        // tags (no offset exceeds it) and keeps the range below `FROZEN`; `EMPTY` wraps
        // to the top. No branch on the tag: the step is a conditional move.
        let width = width_at(s - self.base);
        // Slot 0 is visible (`base <= s`); the answer is in `base..base + size`. Halving
        // as `slice::binary_search` does: one dependent load per step.
        let (mut base, mut size) = (0, tags.len());
        let step = |base: &mut usize, size: &mut usize| {
            let half = *size / 2;
            let mid = *base + half;
            // Acquire: pairs with `publish`, so the chosen slot's word is visible.
            if is_visible(tags[mid].load(Ordering::Acquire), width) {
                *base = mid;
            }
            *size -= half;
        };
        // While the range spans more than a few lines, start loading both lines the next
        // step may probe (`base + next` or `mid + next`), so its miss overlaps this
        // step's: a search over a large segment is otherwise a chain of dependent misses.
        // Below that the lines are the ones just loaded, and the prefetch would only cost.
        while size > PREFETCH_ABOVE {
            let next = (size - size / 2) / 2;
            prefetch(tags.as_ptr().wrapping_add(base + next));
            prefetch(tags.as_ptr().wrapping_add(base + size / 2 + next));
            step(&mut base, &mut size);
        }
        while size > 1 {
            step(&mut base, &mut size);
        }
        base
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

#[cfg(all(test, not(snapstate_loom)))]
mod tests {
    use super::*;

    fn seg(base: u64) -> Owned<u64> {
        Segment::create(8, std::ptr::null_mut(), base, 0, base * 10)
    }

    fn append(s: &Segment<u64>, i: usize, e: u64, flags: u32) {
        let tag = s.pending(e).unwrap() | flags;
        assert!(s.claim(i, tag));
        s.word(i).store(e * 10, Ordering::Relaxed);
        s.publish(i, tag);
    }

    #[test]
    fn tags_are_relative_to_the_base_and_keep_flags_apart() {
        let s = seg(1000);
        assert_eq!(s.pending(999), None, "before the base");
        assert_eq!(s.pending(1000 + SPAN + 1), None, "past the span");
        let far = s.pending(1000 + SPAN).unwrap();
        assert!(far < FROZEN && is_claimed(far) && s.epoch_of(far) == 1000 + SPAN);
        let t = s.ready(1041).unwrap();
        assert_eq!(s.epoch_of(t), 1041);
        assert_eq!(s.epoch_of(t | MAX), 1041);
        assert!(is_ready(t) && !is_ready(s.pending(1041).unwrap()));
        assert!(s.ready(1003).unwrap() < s.pending(1004).unwrap());
        assert!(!is_ready(FROZEN) && !is_claimed(FROZEN) && !is_claimed(EMPTY));
        assert!(!is_max(FROZEN) && is_max(t | MAX) && !is_max(t));
    }

    #[test]
    fn cap_for_rounds_up_and_clamps() {
        assert_eq!(cap_for(0), MIN_CAP);
        assert_eq!(cap_for(3), MIN_CAP);
        assert_eq!(cap_for(5), 8);
        assert_eq!(cap_for(8), 8);
        assert_eq!(cap_for(usize::MAX), MAX_CAP);
    }

    #[test]
    fn search_finds_last_visible_slot_and_skips_empty_tail() {
        let s = seg(2);
        append(&s, 1, 5, 0);
        append(&s, 2, 9, 0);
        assert_eq!(s.last_claimed(), 2);
        assert_eq!(s.search(2), 0);
        assert_eq!(s.search(4), 0);
        assert_eq!(s.search(5), 1);
        assert_eq!(s.search(8), 1);
        assert_eq!(s.search(9), 2);
        assert_eq!(s.search(u64::MAX), 2);
        assert!(
            !s.claim(2, s.pending(10).unwrap()),
            "a claimed slot cannot be claimed again"
        );
    }

    #[test]
    fn the_one_comparison_visibility_test_agrees_with_claimed_and_offset() {
        // Every tag a segment can hold: EMPTY, FROZEN, and each field `offset + 1` in
        // `1..=SPAN + 1` under each combination of flags.
        let limits = [0, 1, 2, 3, 1000, SPAN - 1, SPAN, SPAN + 1, u64::MAX >> 2];
        let offsets = [0, 1, 2, 3, 1000, SPAN - 1, SPAN];
        let mut tags = vec![EMPTY, FROZEN];
        for offset in offsets {
            for flags in 0..(1 << FLAG_BITS) {
                tags.push((((offset + 1) as u32) << FLAG_BITS) | flags);
            }
        }
        for limit in limits {
            for &tag in &tags {
                let expected = is_claimed(tag) && offset_of(tag) <= limit;
                assert_eq!(
                    is_visible(tag, width_at(limit)),
                    expected,
                    "tag {tag:#x}, limit {limit}"
                );
            }
        }
    }

    #[test]
    fn search_never_selects_frozen_slots_whatever_the_snapshot() {
        // Freeze a segment with two versions, then point the hint past them (as a wrong
        // hint would): the frozen slots are probed, and must not count as visible even at
        // a snapshot whose offset is past SPAN (where FROZEN's field would otherwise fit).
        let s = seg(2);
        append(&s, 1, 5, 0);
        assert_eq!(s.freeze(), 1);
        s.set_hint(3);
        for snapshot in [2, 4, 5, 6, SPAN, SPAN + 2, SPAN + 3, u64::MAX >> 2] {
            let want = if snapshot < 5 { 0 } else { 1 };
            assert_eq!(s.search(snapshot), want, "at {snapshot}");
        }
    }

    #[test]
    fn search_treats_empty_tags_below_a_wrong_hint_as_not_visible() {
        // Defence in depth: were the hint ever to name a slot whose claim this thread
        // does not see (the tag still reads EMPTY), the bound would cover
        // unclaimed-looking slots, which must count as not visible, at any snapshot.
        let s = seg(2);
        append(&s, 1, 5, 0);
        s.set_hint(3);
        assert_eq!(s.last_claimed(), 3);
        assert_eq!(s.search(4), 0);
        assert_eq!(s.search(5), 1);
        assert_eq!(s.search(u64::MAX >> 2), 1);
    }

    #[test]
    fn frozen_segments_take_no_claims_and_copies_keep_the_suffix() {
        let s = seg(1);
        append(&s, 1, 2, MAX);
        append(&s, 2, 3, MAX);
        assert!(is_max(s.tag(2).load(Ordering::Relaxed)));
        assert_eq!(s.freeze(), 2);
        assert_eq!(s.freeze(), 2, "freezing twice is harmless");
        assert!(!s.claim(3, s.pending(4).unwrap()));
        assert_eq!(s.last_claimed(), 2);
        assert_eq!(s.search(100), 2);
        let copy = Segment::copy_of(&s, 1, 2);
        assert_eq!(copy.cap(), 4);
        assert_eq!(copy.first_epoch(), 2);
        assert_eq!(copy.last_claimed(), 1);
        let last = copy.tag(1).load(Ordering::Relaxed);
        assert!(is_max(last) && is_ready(last) && copy.epoch_of(last) == 3);
        assert_eq!(copy.word(copy.search(3)).load(Ordering::Relaxed), 30);
        assert!(copy.prev().is_null());
    }

    #[test]
    #[cfg_attr(miri, ignore = "a 48 MiB allocation")]
    fn large_segments_are_not_resident_until_touched() {
        // 4 Mi slots: 48 MiB of address space, mapped. Only the pages written become
        // resident.
        let big = Segment::<u64>::create(1 << 22, std::ptr::null_mut(), 0, 0, 7);
        assert_eq!(big.word(0).load(Ordering::Relaxed), 7);
        assert!(big.bytes() >= 48 << 20);
        if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
            let resident: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
            assert!(resident * 4096 < 40 << 20, "{resident} pages resident");
        }
    }
}
