//! One node's version log: the write protocol and the reads.
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
//!   mark it ready. If the segment is full (or frozen by compaction), build a new one with
//!   the value already in slot 0 and publish it with a CAS on `tail`. A lost CAS means
//!   another writer moved the log on: look again.
//! - `x > e`: this writer's epoch is stale (a writer of a later epoch got here first);
//!   hand the value back so the caller re-announces the current epoch.
//!
//! Each retry follows another writer's successful CAS, so the loop is lock-free; a
//! writer with no rival on its node finishes in one pass (wait-free).
//!
//! # Raising (`advance`)
//!
//! The same walk, but every word update is a CAS that only raises the value, and a new
//! version starts from the larger of the new value and the one before it. A raise in
//! place that finds later slots already claimed propagates itself into them, and an
//! append re-reads its predecessor after claiming; a SeqCst fence on each side orders the
//! two (Dekker), so a raise is never lost behind a newer version.

use crossbeam_epoch::Guard;

use crate::segment::{cap_for, is_claimed, is_max, is_ready, Owned, Segment, MAX, MIN_CAP};
use crate::sync::{fence, AtomicPtr, Backoff, Ordering};
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

/// The outcome of a read at a sealed snapshot.
pub(crate) enum ReadAt {
    /// The word of the visible version.
    Found(u64),
    /// No version at or before the snapshot is reachable: the node had none yet, or
    /// compaction cut them off (the caller tells which from the floor).
    Before,
}

impl<T: Clone + Send + Sync + 'static> Node<T> {
    /// A node whose log holds one version, `word`, of epoch `e`.
    pub(crate) fn with_version(e: u64, word: u64) -> Self {
        Node {
            tail: AtomicPtr::new(
                Segment::create(MIN_CAP, std::ptr::null_mut(), e, 0, word).into_raw(),
            ),
        }
    }

    /// The newest segment, or null for a node never written.
    #[inline]
    pub(crate) fn tail(&self) -> *mut Segment<T> {
        // Acquire: pairs with the Release of the CAS that published the segment, so its
        // slot 0 and header are initialised.
        self.tail.load(Ordering::Acquire)
    }

    /// Replaces the tail segment `old` with `new` (compaction). False if it moved.
    pub(crate) fn replace_tail(&self, old: *mut Segment<T>, new: *mut Segment<T>) -> bool {
        // AcqRel: Release publishes `new` to `tail()` loads; Acquire on failure pairs
        // with the writer that moved the tail, before the caller walks to it.
        self.tail
            .compare_exchange(old, new, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Writes `word` as the node's state in epoch `e`.
    ///
    /// The caller must hold an announcement of `e` that `snap()` has seen or will see
    /// (the `announce` protocol), and for boxed values a pinned `guard` for deferring the
    /// replaced box. On `Err` the caller still owns `word`: the epoch was stale.
    #[inline]
    pub(crate) fn write(&self, e: u64, word: u64, guard: Option<&Guard>) -> Result<(), u64> {
        // The fast paths: the cases of `write_slow` with a ready newest slot at the hint.
        let seg_ptr = self.tail();
        if !seg_ptr.is_null() {
            // SAFETY: as in `write_slow`.
            let seg = unsafe { &*seg_ptr };
            let i = seg.hint();
            // Acquire: pairs with `publish` / the claim CAS, as in `write_slow`.
            let tag = seg.tag(i).load(Ordering::Acquire);
            if let Some(claim) = seg.pending(e) {
                // A second write in the same epoch: `x == e`, in place.
                if Some(tag) == seg.ready(e) && seg.is_last(i) {
                    Self::store_word(seg, i, word, guard);
                    return Ok(());
                }
                // The first write of the epoch after a ready version of an earlier one:
                // `x < e`, append. The claim succeeds only if slot `i + 1` was empty, so
                // `i` was the last claimed slot.
                if is_ready(tag)
                    && seg.epoch_of(tag) < e
                    && i + 1 < seg.cap()
                    && seg.claim(i + 1, claim)
                {
                    Self::store_word(seg, i + 1, word, guard);
                    seg.publish(i + 1, claim);
                    seg.set_hint(i + 1);
                    return Ok(());
                }
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
            // SAFETY: segments are freed by `Drop` (`&mut`) or by compaction once unlinked
            // and every write then in flight has ended (`wait_for_in_flight`); this writer
            // is announced and loaded `seg_ptr` after its fence.
            let seg = unsafe { &*seg_ptr };
            let i = seg.last_claimed();
            // Acquire: pairs with the claim CAS, so `x` is the slot's final epoch.
            let tag = seg.tag(i).load(Ordering::Acquire);
            let x = seg.epoch_of(tag);
            if x > e {
                return Err(word);
            }
            if x == e {
                Self::store_word(seg, i, word, guard);
                if !is_ready(tag) {
                    seg.publish(i, tag);
                }
                return Ok(());
            }
            // `e` too far past the segment's base to be tagged here: a new segment.
            let claim = seg.pending(e);
            if let Some(claim) = claim.filter(|_| i + 1 < seg.cap()) {
                if seg.claim(i + 1, claim) {
                    Self::store_word(seg, i + 1, word, guard);
                    seg.publish(i + 1, claim);
                    seg.set_hint(i + 1);
                    return Ok(());
                }
            }
            if claim.is_some() && !seg.is_last(i) {
                continue; // lost the claim to another writer: look again
            }
            if self.install(seg_ptr, self.next_cap(seg), e, word) {
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
            retire_word::<T>(old, guard);
        }
    }

    /// The capacity for the segment after the full segment `seg`: room for as many
    /// versions as the chain holds (so the total doubles without compaction, and stays
    /// small with it).
    fn next_cap(&self, seg: &Segment<T>) -> usize {
        let mut held = 0usize;
        let mut p: *const Segment<T> = seg;
        while !p.is_null() {
            // SAFETY: reached from the tail while announced, as in `write_slow`.
            let s = unsafe { &*p };
            held = held.saturating_add(s.last_claimed() + 1);
            p = s.prev();
        }
        cap_for(held)
    }

    /// Publishes a new segment after `prev` (null for the first) with `word` in slot 0.
    /// Returns false, still owning `word`, if another writer moved the tail first.
    fn install(&self, prev: *mut Segment<T>, cap: usize, e: u64, word: u64) -> bool {
        self.install_tagged(prev, cap, e, 0, word).is_some()
    }

    /// Publishes a new segment after `prev` whose slot 0 holds `word` for epoch `e` with
    /// the extra tag `flags`, and returns it; `None`, still owning `word`, if another
    /// writer moved the tail first.
    fn install_tagged(
        &self,
        prev: *mut Segment<T>,
        cap: usize,
        e: u64,
        flags: u32,
        word: u64,
    ) -> Option<*mut Segment<T>> {
        let fresh = Segment::create(cap, prev, e, flags, word).into_raw();
        if self.replace_tail(prev, fresh) {
            return Some(fresh);
        }
        // SAFETY: the CAS failed, so `fresh` was never shared; slot 0's word stays ours.
        drop(unsafe { Owned::from_raw(fresh) });
        None
    }

    /// Raises the node's state to `value` in epoch `e` if it is higher; `Ok(raised)`.
    /// `initial` is the state of a node never written.
    ///
    /// Same contract as [`Node::write`] (a pinned guard for boxed values). On `Err` the
    /// epoch was stale and nothing was written.
    pub(crate) fn raise(
        &self,
        e: u64,
        value: &T,
        initial: &T,
        guard: Option<&Guard>,
    ) -> Result<bool, ()>
    where
        T: Ord,
    {
        loop {
            let seg_ptr = self.tail();
            if seg_ptr.is_null() {
                if initial >= value {
                    return Ok(false);
                }
                let word = Word::<T>::encode(value.clone());
                if self
                    .install_tagged(seg_ptr, MIN_CAP, e, MAX, word)
                    .is_some()
                {
                    return Ok(true);
                }
                // SAFETY: the install failed, so the word is still ours alone.
                unsafe { Word::<T>::release(word) };
                continue;
            }
            // SAFETY: as in `write_slow`.
            let seg = unsafe { &*seg_ptr };
            let i = seg.last_claimed();
            // Acquire: as in `write_slow`.
            let tag = seg.tag(i).load(Ordering::Acquire);
            let x = seg.epoch_of(tag);
            if x > e {
                return Err(());
            }
            if !is_ready(tag) {
                // Its writer is between claim and publish. A raise in place needs the
                // word it will write, and a new version must start from it: wait out the
                // writer's few remaining instructions (the one wait in `advance`).
                wait_ready(seg, i);
                continue;
            }
            if x == e {
                let raised = raise_word(seg, i, value, guard);
                // SeqCst: orders the raise above before the look for later slots, against
                // the fence in the append branches below (Dekker): either this sees their
                // claim and propagates into it, or they see this raise when they carry.
                fence(Ordering::SeqCst);
                self.propagate(seg, i, value, guard);
                return Ok(raised);
            }
            // Appending after a ready version of an earlier epoch.
            // Acquire: pairs with the Release of the store or raise that wrote it.
            let cur = seg.word(i).load(Ordering::Acquire);
            // SAFETY: a word of this array's log; boxed ones are loaded under `guard`.
            if unsafe { Word::<T>::cmp_to(cur, value) }.is_ge() {
                return Ok(false);
            }
            let claim = seg.pending(e).map(|t| t | MAX);
            if let Some(claim) = claim.filter(|&c| i + 1 < seg.cap() && seg.claim(i + 1, c)) {
                // The slot is ours until published: raisers of earlier slots wait for it.
                Self::store_word(seg, i + 1, Word::<T>::encode(value.clone()), guard);
                // SeqCst: the appender half of the Dekker pair with the in-place branch:
                // orders our claim before the re-read of the predecessor in `carry`.
                fence(Ordering::SeqCst);
                carry(seg, i, seg, i + 1, guard);
                seg.publish(i + 1, claim);
                seg.set_hint(i + 1);
                return Ok(true);
            }
            if claim.is_some() && !seg.is_last(i) {
                continue; // lost the claim to another writer: look again
            }
            let word = Word::<T>::encode(value.clone());
            // Slot 0 is published ready: a raise of `seg`'s last slot that misses our
            // carry sees the new segment after its fence and propagates into it.
            match self.install_tagged(seg_ptr, self.next_cap(seg), e, MAX, word) {
                Some(fresh) => {
                    // SeqCst: as in the claim branch above (the tail CAS is our claim).
                    fence(Ordering::SeqCst);
                    // SAFETY: published by us just now; compaction frees segments only
                    // after the writes in flight when it unlinked them have finished.
                    carry(seg, i, unsafe { &*fresh }, 0, guard);
                    return Ok(true);
                }
                // SAFETY: the install failed, so the word is still ours alone.
                None => unsafe { Word::<T>::release(word) },
            }
        }
    }

    /// After raising slot `i` of `seg` in place: raise every slot claimed after it by
    /// `advance` (`MAX`), stopping at the first slot claimed by `set_state`, whose value
    /// overrides ours.
    fn propagate(&self, seg: &Segment<T>, i: usize, value: &T, guard: Option<&Guard>)
    where
        T: Ord,
    {
        let seg_ptr: *const Segment<T> = seg;
        let mut later = Vec::new();
        let mut p = self.tail();
        while !p.is_null() && !std::ptr::eq(p, seg_ptr) {
            later.push(p);
            // SAFETY: reached from the tail while announced and pinned.
            p = unsafe { &*p }.prev();
        }
        let own = (i + 1..seg.cap()).map(|j| (seg_ptr, j));
        let after = later.into_iter().rev().flat_map(|p| {
            // SAFETY: as above.
            let cap = unsafe { &*p }.cap();
            (0..cap).map(move |j| (p.cast_const(), j))
        });
        for (p, j) in own.chain(after) {
            // SAFETY: as above.
            let s = unsafe { &*p };
            // Acquire: pairs with the claim CAS.
            let tag = s.tag(j).load(Ordering::Acquire);
            if !is_claimed(tag) || !is_max(tag) {
                break;
            }
            if !is_ready(tag) {
                wait_ready(s, j);
            }
            raise_word(s, j, value, guard);
        }
    }

    /// The word of the version visible at sealed snapshot `s`.
    ///
    /// `s` must be sealed: no writer announced at or below `s` is still running.
    #[inline]
    pub(crate) fn read_at(&self, s: u64, _guard: &Guard) -> ReadAt {
        let mut seg_ptr = self.tail();
        while !seg_ptr.is_null() {
            // SAFETY: reached from `tail` under a pinned guard; segments are retired
            // through the array's collector after they are unlinked, never before.
            let seg = unsafe { &*seg_ptr };
            if seg.first_epoch() <= s {
                let i = seg.search(s);
                // Acquire: pairs with the Release word stores, for boxed contents.
                return ReadAt::Found(seg.word(i).load(Ordering::Acquire));
            }
            seg_ptr = seg.prev();
        }
        ReadAt::Before
    }

    /// The epoch of the version visible at sealed snapshot `s`, if one is reachable.
    pub(crate) fn epoch_at(&self, s: u64, _guard: &Guard) -> Option<u64> {
        let mut seg_ptr = self.tail();
        while !seg_ptr.is_null() {
            // SAFETY: as in `read_at`.
            let seg = unsafe { &*seg_ptr };
            if seg.first_epoch() <= s {
                // Acquire: pairs with `publish`.
                return Some(seg.epoch_of(seg.tag(seg.search(s)).load(Ordering::Acquire)));
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

    /// `(versions, bytes)` held by this node's log.
    pub(crate) fn footprint(&self, _guard: &Guard) -> (usize, usize) {
        let (mut versions, mut bytes) = (0, 0);
        let mut p = self.tail();
        while !p.is_null() {
            // SAFETY: as in `read_at`.
            let s = unsafe { &*p };
            versions += s.last_claimed() + 1;
            bytes += s.bytes();
            p = s.prev();
        }
        (versions, bytes)
    }
}

/// Waits until slot `i`, claimed by a writer now between its claim and its publish, is
/// ready: that writer's few remaining instructions.
#[cold]
fn wait_ready<T>(seg: &Segment<T>, i: usize) {
    let mut backoff = Backoff::new();
    // Acquire: pairs with `publish`.
    while !is_ready(seg.tag(i).load(Ordering::Acquire)) {
        backoff.snooze();
    }
}

/// Raises slot `to` of `to_seg` (ours, or ready) to the value of the ready slot `from` of
/// `from_seg`.
fn carry<T>(
    from_seg: &Segment<T>,
    from: usize,
    to_seg: &Segment<T>,
    to: usize,
    guard: Option<&Guard>,
) where
    T: Clone + Send + Sync + Ord + 'static,
{
    // Acquire: pairs with the Release of the store or raise that wrote it.
    let prev = from_seg.word(from).load(Ordering::Acquire);
    // SAFETY: a word of this array's log; for boxed values loaded under the caller's
    // pinned guard.
    let prev = unsafe { Word::<T>::clone_out(prev) };
    raise_word(to_seg, to, &prev, guard);
}

/// Hands a replaced word to the collector (boxed values; nothing for inline ones).
#[inline]
fn retire_word<T: Clone + Send + Sync + 'static>(old: u64, guard: Option<&Guard>) {
    if !Word::<T>::is_inline() && old != 0 {
        let guard = guard.expect("boxed values are written under a pinned guard");
        // SAFETY: `old` was swapped out, so no new reader can load it; readers that
        // loaded it earlier are pinned, and the collector runs this only after they
        // unpin. `T: Send + 'static`, so dropping it elsewhere is fine.
        guard.defer(move || unsafe { Word::<T>::release(old) });
    }
}

/// Raises slot `i`'s word to `value` if `value` is greater. The slot is ready, or
/// claimed by the caller with its word already written.
fn raise_word<T>(seg: &Segment<T>, i: usize, value: &T, guard: Option<&Guard>) -> bool
where
    T: Clone + Send + Sync + Ord + 'static,
{
    let cell = seg.word(i);
    // Acquire: pairs with the Release half of other raises and stores, for boxed data.
    let mut cur = cell.load(Ordering::Acquire);
    let mut fresh = None;
    loop {
        // SAFETY: `cur` is a written word of this array's log; boxed ones are loaded
        // under the caller's pinned guard, which keeps their box alive.
        if unsafe { Word::<T>::cmp_to(cur, value) }.is_ge() {
            if let Some(w) = fresh {
                // SAFETY: never shared.
                unsafe { Word::<T>::release(w) };
            }
            return false;
        }
        let new = *fresh.get_or_insert_with(|| Word::<T>::encode(value.clone()));
        // AcqRel: Release publishes the new value (and box contents); Acquire on failure
        // pairs with the rival store before we compare with it.
        match cell.compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(old) => {
                retire_word::<T>(old, guard);
                return true;
            }
            Err(actual) => cur = actual,
        }
    }
}

impl<T> Node<T> {
    /// Frees the whole log. Runs only with exclusive access (the array's `Drop`).
    pub(crate) fn free(&mut self, release: unsafe fn(u64)) {
        // Relaxed: exclusive access (loom's atomics have no `get_mut`).
        let tail = self.tail.load(Ordering::Relaxed);
        // SAFETY: exclusive access; the chain's segments and words are owned by the log.
        unsafe { free_chain(tail, release) };
    }
}

/// Frees a chain of segments and every word they hold.
///
/// # Safety
///
/// The caller owns the chain: no thread can reach it any more, and no live segment
/// holds copies of its words.
pub(crate) unsafe fn free_chain<T>(mut seg_ptr: *mut Segment<T>, release: unsafe fn(u64)) {
    while !seg_ptr.is_null() {
        // SAFETY: every segment in the chain was published from `Owned::into_raw` and is
        // reachable exactly once; the caller owns it.
        let seg = unsafe { Owned::from_raw(seg_ptr) };
        // SAFETY: forwarded from the caller.
        unsafe { seg.release_words(0..seg.cap(), release) };
        seg_ptr = seg.prev();
    }
}

#[cfg(all(test, not(snapstate_loom)))]
mod tests {
    use super::*;

    fn read(node: &Node<u64>, s: u64, guard: &Guard) -> Option<u64> {
        match node.read_at(s, guard) {
            ReadAt::Found(w) => Some(w),
            ReadAt::Before => None,
        }
    }

    #[test]
    fn epochs_too_far_from_a_segment_base_start_a_new_segment() {
        let collector = crossbeam_epoch::Collector::new();
        let handle = collector.register();
        let guard = handle.pin();
        let node: Node<u64> = Node::with_version(7, 70);
        // Single-threaded: no announcement is needed for the protocol to hold.
        let far = 7 + (1u64 << 31);
        assert!(node.write(far, 1, None).is_ok());
        assert!(node.write(far + 1, 2, None).is_ok());
        let tail = node.tail();
        // SAFETY: the node is alive and nothing is freed in this test.
        let tail = unsafe { &*tail };
        assert_eq!(
            tail.first_epoch(),
            far,
            "a new segment based at the far epoch"
        );
        assert!(!tail.prev().is_null());
        assert_eq!(read(&node, 6, &guard), None);
        assert_eq!(read(&node, 7, &guard), Some(70));
        assert_eq!(read(&node, far - 1, &guard), Some(70));
        assert_eq!(read(&node, far, &guard), Some(1));
        assert_eq!(read(&node, far + 5, &guard), Some(2));
        assert_eq!(node.read_current(&guard), Some(2));
        let mut node = node;
        node.free(|_| {});
    }
}
