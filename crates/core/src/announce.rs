//! Writer announcements: how `snap()` knows which writers may still write into the epoch
//! it is closing.
//!
//! Each thread that writes to an array owns one [`Slot`] in the array's [`Registry`]. Before
//! it touches a node it stores the epoch it will write in, issues a SeqCst fence, and
//! re-reads the clock; after the write it stores [`IDLE`]. `snap()` bumps the clock, issues
//! its own SeqCst fence, and seals the snapshot once no slot holds an epoch at or below the
//! one it closed: it spins briefly on such a slot, and past the spin leaves the seal to
//! whoever next needs it (a reader, after the same fence, waits for the slot to clear).
//!
//! # Synchronization
//!
//! This is Dekker's pattern. Writer: `store(slot, e); fence(SeqCst); load(open)`. Snap:
//! `fetch_add(open); fence(SeqCst); load(slot)`. The two fences are totally ordered. If
//! the writer's fence comes first, the snap's slot load sees `e` (or a later value) and the
//! seal waits for the writer; if the snap's fence comes first, the writer's re-read sees the
//! bumped clock and it re-announces the new epoch instead of writing into the closed one.
//! Either way, no write tagged with epoch `e` happens after snapshot `e` is sealed, and
//! nothing reads snapshot `e` before. The registry's `next` counter and chunk pointers are
//! read after the same fence, so a thread that registered before announcing is seen too.
//!
//! The writer's final `store(slot, IDLE)` is Release and the snap's slot loads are Acquire,
//! so everything the writer wrote happens-before the seal.
//!
//! *Why the snap side has a fence instruction.* By C++20 \[atomics.order\] p4, a SeqCst
//! `fetch_add` followed by SeqCst slot loads would do without one (on x86 the locked RMW
//! is already a full barrier and SeqCst loads are plain loads), saving about 2 ns per
//! `snap()`. But loom models SeqCst loads as Acquire, so it reports that variant as the
//! trap (tried: the trap model fails). We keep the form loom can check.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicPtr, AtomicU64, AtomicUsize, Backoff, Ordering};

/// The announcement of a thread that is not inside a write.
pub(crate) const IDLE: u64 = u64::MAX;

/// Slot ownership states.
const FRESH: usize = 0; // handed out by `next`, claimed by whoever took the index
const OWNED: usize = 1;
const RELEASED: usize = 2; // free for any thread to claim

/// Chunk `k` of the registry holds `FIRST << k` slots; 22 chunks hold 16 million threads.
const CHUNKS: usize = 22;
/// Slots in chunk 0, which is allocated with the registry so the first threads to write
/// never race to install a chunk.
const FIRST: usize = 4;
/// How many times `snap()` polls a slot still announced in the epoch it closes before it
/// returns unsealed and leaves the seal to the first read of the id: the spinning steps of
/// [`Backoff`] (63 spin-loop hints in all, no yield), one yield under loom.
const SNAP_POLLS: u32 = if cfg!(snapstate_loom) { 1 } else { 6 };

/// One thread's announcement, alone on its cache line.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The epoch the owner is writing in, or `IDLE`.
    epoch: AtomicU64,
    /// How many writes the owner has finished; written only by the owner. Lets
    /// `wait_for_in_flight` tell a finished write from the next one in the same epoch.
    done: AtomicU64,
    owner: AtomicUsize,
}

impl Slot {
    fn new() -> Self {
        Slot {
            epoch: AtomicU64::new(IDLE),
            done: AtomicU64::new(0),
            owner: AtomicUsize::new(FRESH),
        }
    }

    /// Announces that this thread is about to write in epoch `e`.
    #[inline]
    pub(crate) fn announce(&self, e: u64) {
        // Release: pairs with the Acquire load in `wait_for_in_flight`, so a compactor
        // that sees this announcement also sees the `done` count of the previous write.
        // Its ordering against the clock re-read comes from the caller's SeqCst fence,
        // which pairs with the one in `snap()`. A plain store on x86.
        self.epoch.store(e, Ordering::Release);
    }

    /// Announces that this thread's write is complete.
    #[inline]
    pub(crate) fn clear(&self) {
        // Relaxed: only the owner writes `done`.
        let done = self.done.load(Ordering::Relaxed);
        // Release: pairs with the Acquire `done` loads in `wait_for_in_flight`. A
        // compactor that leaves its wait because the count moved on (the slot may
        // already show this thread's next write, in the same epoch) must see this whole
        // write happen-before it frees what the write may have loaded. A plain store on
        // x86. (It was Relaxed once; the loom model `compaction_reclaim_forced` found the
        // missing edge.)
        self.done.store(done.wrapping_add(1), Ordering::Release);
        // Release: pairs with the Acquire loads in `Registry::wait_for` and
        // `wait_for_in_flight`, so the write happens-before the `snap()` that waited for
        // it returns, and the `done` store above is visible with it.
        self.epoch.store(IDLE, Ordering::Release);
    }
}

/// The announcement slots of one array, in chunks that never move.
#[derive(Debug)]
pub(crate) struct Registry {
    chunks: [AtomicPtr<CachePadded<Slot>>; CHUNKS],
    /// Slot indices handed out so far; `snap()` scans `0..next`.
    next: AtomicUsize,
}

/// Chunk number and offset of slot `idx`.
#[inline]
fn locate(idx: usize) -> (usize, usize) {
    let n = idx + FIRST;
    let top = (usize::BITS - 1 - n.leading_zeros()) as usize;
    let k = top - FIRST.trailing_zeros() as usize;
    (k, n - (FIRST << k))
}

/// A boxed run of `len` idle, fresh slots, as a raw pointer to the first.
fn new_chunk(len: usize) -> *mut CachePadded<Slot> {
    let chunk: Box<[CachePadded<Slot>]> = (0..len).map(|_| CachePadded::new(Slot::new())).collect();
    Box::into_raw(chunk).cast::<CachePadded<Slot>>()
}

impl Registry {
    pub(crate) fn new() -> Self {
        Registry {
            chunks: std::array::from_fn(|k| {
                let first = if k == 0 {
                    new_chunk(FIRST)
                } else {
                    std::ptr::null_mut()
                };
                AtomicPtr::new(first)
            }),
            next: AtomicUsize::new(0),
        }
    }

    /// The slot at `idx`, if its chunk has been installed.
    #[inline]
    pub(crate) fn get(&self, idx: usize) -> Option<&Slot> {
        let (k, off) = locate(idx);
        // Acquire: pairs with the AcqRel install in `chunk`, so the slots are initialised.
        // (In `wait_for` this load follows the snap's SeqCst fence, so a chunk installed
        // before a writer's fence is seen.)
        let chunk = self.chunks.get(k)?.load(Ordering::Acquire);
        if chunk.is_null() {
            return None;
        }
        // SAFETY: a non-null chunk pointer came from `new_chunk(FIRST << k)` and is freed
        // only in `Drop`, which needs `&mut self`; `off < FIRST << k` by `locate`.
        Some(unsafe { &*chunk.add(off) })
    }

    /// Installs chunk `k` if no thread has yet, and returns it.
    fn chunk(&self, k: usize) -> *mut CachePadded<Slot> {
        let cell = &self.chunks[k];
        // Acquire: pairs with the AcqRel CAS below, run by whichever thread installs it.
        let cur = cell.load(Ordering::Acquire);
        if !cur.is_null() {
            return cur;
        }
        let fresh = new_chunk(FIRST << k);
        // AcqRel: Release publishes the initialised slots to `get`; Acquire on failure
        // pairs with the winner's Release.
        match cell.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => fresh,
            Err(winner) => {
                let slice = std::ptr::slice_from_raw_parts_mut(fresh, FIRST << k);
                // SAFETY: `fresh` lost the race, so it was never shared; it is the boxed
                // slice of `FIRST << k` slots built above.
                drop(unsafe { Box::from_raw(slice) });
                winner
            }
        }
    }

    /// Takes a slot for the calling thread: a released one if any, else a new one.
    pub(crate) fn acquire(&self) -> usize {
        // Acquire: pairs with the AcqRel `fetch_add` below, so chunks for indices below
        // `next` are either installed or about to be by their taker.
        let next = self.next.load(Ordering::Acquire);
        for idx in 0..next {
            if let Some(slot) = self.get(idx) {
                // Acquire: pairs with the Release in `release`, so the previous owner's
                // last `clear` is visible before this thread reuses the slot.
                if slot
                    .owner
                    .compare_exchange(RELEASED, OWNED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return idx;
                }
            }
        }
        // AcqRel: index hand-out; it publishes nothing by itself but keeps `next` a
        // release sequence for the Acquire loads of `acquire` and `wait_for`.
        let idx = self.next.fetch_add(1, Ordering::AcqRel);
        let (k, _) = locate(idx);
        assert!(
            k < CHUNKS,
            "snapstate: more than 16 million threads registered"
        );
        self.chunk(k);
        let slot = self.get(idx).expect("chunk was just installed");
        // Relaxed: the index is ours alone (FRESH slots are never claimed by others).
        slot.owner.store(OWNED, Ordering::Relaxed);
        idx
    }

    /// Returns a slot, whose owner has left every write, to the pool.
    pub(crate) fn release(&self, idx: usize) {
        if let Some(slot) = self.get(idx) {
            debug_assert_eq!(slot.epoch.load(Ordering::Relaxed), IDLE);
            // Release: pairs with the Acquire CAS in `acquire`.
            slot.owner.store(RELEASED, Ordering::Release);
        }
    }

    /// Waits until no writer is announced in an epoch at or below `e`.
    ///
    /// The caller has bumped the clock past `e` and issued a SeqCst fence, so a writer
    /// that announces after this scan reads the bumped clock and moves to a later epoch
    /// (module docs). Each wait lasts as long as the writer's remaining instructions of
    /// one `set_state`.
    pub(crate) fn wait_for(&self, e: u64) {
        self.for_each_slot(|slot| {
            // Acquire: pairs with the Release in `Slot::clear`, so the writer's stores
            // happen-before this snap returns. Ordered after the caller's SeqCst fence:
            // the slot load of the Dekker pair in the module docs.
            if slot.epoch.load(Ordering::Acquire) <= e {
                let mut backoff = Backoff::new();
                // Acquire: as above.
                while slot.epoch.load(Ordering::Acquire) <= e {
                    backoff.snooze();
                }
            }
        });
    }

    /// `wait_for`, but giving up on a writer still announced at or below `e` after
    /// [`SNAP_POLLS`] short spins: true if no writer is left at or below `e` (the epoch
    /// can be sealed), false if one was still mid-write (most likely descheduled there).
    ///
    /// The same preconditions as `wait_for`; with them, `true` means exactly what a
    /// `wait_for` that returned means.
    pub(crate) fn settled_after_spin(&self, e: u64) -> bool {
        let mut settled = true;
        self.for_each_slot(|slot| {
            // Acquire: as in `wait_for` (pairs with the Release in `Slot::clear`).
            if settled && slot.epoch.load(Ordering::Acquire) <= e {
                settled = Self::clears_within_spin(slot, e);
            }
        });
        settled
    }

    /// Whether `slot` moves past `e` within [`SNAP_POLLS`] polls.
    #[cold]
    fn clears_within_spin(slot: &Slot, e: u64) -> bool {
        let mut backoff = Backoff::new();
        for _ in 0..SNAP_POLLS {
            backoff.snooze();
            // Acquire: as in `wait_for`.
            if slot.epoch.load(Ordering::Acquire) > e {
                return true;
            }
        }
        false
    }

    /// Calls `f` on every slot handed out so far, chunk by chunk.
    #[inline]
    fn for_each_slot(&self, mut f: impl FnMut(&Slot)) {
        // Acquire: pairs with the AcqRel `fetch_add` in `acquire`; ordered after the
        // caller's SeqCst fence, so a writer registered before its own fence is counted.
        let next = self.next.load(Ordering::Acquire);
        // Chunk 0 is installed by `new` and holds the first `FIRST` slots: most arrays
        // never have more writer threads than that.
        // Relaxed: installed before the registry was shared.
        let first = self.chunks[0].load(Ordering::Relaxed);
        for off in 0..next.min(FIRST) {
            // SAFETY: chunk 0 holds `FIRST` slots (see `new`), `off < FIRST`.
            f(unsafe { &*first.add(off) });
        }
        if next > FIRST {
            self.for_each_later_slot(next - FIRST, f);
        }
    }

    #[cold]
    fn for_each_later_slot(&self, mut left: usize, mut f: impl FnMut(&Slot)) {
        for (k, cell) in self.chunks.iter().enumerate().skip(1) {
            if left == 0 {
                return;
            }
            let len = (FIRST << k).min(left);
            left -= len;
            // Acquire: pairs with the AcqRel install in `chunk`. (Also ordered after the
            // caller's fence, so a chunk installed before a writer's fence is seen.)
            let chunk = cell.load(Ordering::Acquire);
            if chunk.is_null() {
                continue; // its first taker has not installed it, so has not announced
            }
            for off in 0..len {
                // SAFETY: a non-null chunk holds `FIRST << k` slots (see `get`) and
                // `off < len <= FIRST << k`.
                f(unsafe { &*chunk.add(off) });
            }
        }
    }
}

impl Registry {
    /// Waits until every write that was in flight when this was called has finished.
    ///
    /// The compactor's writer barrier. The caller has unlinked memory from every node
    /// and then issued a SeqCst fence. A writer whose own fence came later reloads every
    /// pointer after it and cannot reach the unlinked memory; a writer whose fence came
    /// earlier has its announcement visible here (Dekker, as in the module docs), and
    /// this waits until that slot shows anything else: the write ended (`done` moved on,
    /// or `IDLE`), or it re-announced, which also means it passed a new fence after ours
    /// and reloads everything.
    pub(crate) fn wait_for_in_flight(&self) {
        self.for_each_slot(|slot| {
            // Acquire: pairs with the Release stores in `announce` and `clear`, so the
            // `done` count read next is at least the one stored before that epoch.
            let epoch = slot.epoch.load(Ordering::Acquire);
            if epoch == IDLE {
                return;
            }
            // Relaxed: ordered by the Acquire load above; only compared below.
            let done = slot.done.load(Ordering::Relaxed);
            let mut backoff = Backoff::new();
            // Acquire (both): the loop ends on a new epoch (pairs with the Release in
            // `announce` or `clear`) or a new `done` count (pairs with the Release store
            // of `done` in `clear`); either way the write that was in flight
            // happens-before what the caller does next.
            while slot.epoch.load(Ordering::Acquire) == epoch
                && slot.done.load(Ordering::Acquire) == done
            {
                backoff.snooze();
            }
        });
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for (k, cell) in self.chunks.iter().enumerate() {
            // Relaxed: `&mut self` (loom's atomics have no `get_mut`).
            let chunk = cell.load(Ordering::Relaxed);
            if !chunk.is_null() {
                let slice = std::ptr::slice_from_raw_parts_mut(chunk, FIRST << k);
                // SAFETY: made by `new_chunk(FIRST << k)`; `&mut self` means no thread can
                // still reach it.
                drop(unsafe { Box::from_raw(slice) });
            }
        }
    }
}

#[cfg(all(test, not(snapstate_loom)))]
mod tests {
    use super::*;

    #[test]
    fn locate_maps_indices_to_doubling_chunks() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(3), (0, 3));
        assert_eq!(locate(4), (1, 0));
        assert_eq!(locate(11), (1, 7));
        assert_eq!(locate(12), (2, 0));
        assert_eq!(locate(27), (2, 15));
        assert_eq!(locate(28), (3, 0));
    }

    #[test]
    fn released_slots_are_reused_before_new_ones() {
        let r = Registry::new();
        let a = r.acquire();
        let b = r.acquire();
        assert_ne!(a, b);
        r.release(a);
        assert_eq!(r.acquire(), a);
        assert_eq!(r.acquire(), 2);
        // Past the pre-allocated chunk, new chunks are installed on demand.
        let more: Vec<usize> = (0..20).map(|_| r.acquire()).collect();
        assert_eq!(more, (3..23).collect::<Vec<_>>());
        for idx in more {
            assert!(r.get(idx).is_some());
        }
    }

    #[test]
    fn wait_for_returns_once_announcements_are_later_or_idle() {
        let r = Registry::new();
        let a = r.acquire();
        r.get(a).unwrap().announce(5);
        r.wait_for(4); // 5 > 4: must not wait
        r.get(a).unwrap().clear();
        r.wait_for(9);
    }
}
