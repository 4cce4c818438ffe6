//! White-box loom models: the ones that need the array's internals (its collector, its
//! announcement registry, its node logs). The models of the public API are in the
//! workspace's `loom-tests` crate.
//!
//! Declared from `array.rs` (a child module, so it reaches the array's private fields)
//! and compiled only under `cfg(all(test, snapstate_loom))`:
//!
//! ```sh
//! RUSTFLAGS="--cfg snapstate_loom --cfg crossbeam_loom" CARGO_TARGET_DIR=target/loom \
//!   cargo test -p snapstate --lib --release --features loom -- --nocapture
//! ```
//!
//! | model | what races |
//! |---|---|
//! | `reclamation_forced` | a writer that replaces a boxed value and then drives the collector until it frees the old one, against a pinned reader cloning it |
//! | `unpinned_reader_is_caught` | the same with a reader that skips the pin: must fail (the model has teeth) |
//! | `registry_chunk_install` | two writers taking announcement slots in a chunk not yet installed, against a `snap()` scanning the slots |
//! | `compaction_reclaim_forced` | a compaction that rewrites a node's segment and then drives the collector until it frees the old one, against a writer appending to that node |
//! | `compaction_without_barrier_is_caught` | the same with the writer barrier skipped: must fail (the model has teeth) |
//!
//! Every segment's slots carry a liveness probe under loom (see `slots::Slots`): an access
//! to a segment's tags or words that does not happen-before its free is reported.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering as StdOrdering};
use std::sync::Arc as StdArc;
use std::time::Instant;

use loom::alloc::Track;
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;

use super::SnapshotArray;
use crate::local;
use crate::word::Word;
use crate::SnapshotId;

/// Runs `f` under loom with preemption bound `bound` (or `LOOM_MAX_PREEMPTIONS`) and
/// prints the iteration count and time.
fn model(name: &str, bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    let bound = *builder.preemption_bound.get_or_insert(bound);
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = 20_000;
    }
    let runs = StdArc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let start = Instant::now();
    builder.check(move || {
        // Relaxed: a plain count, read after `check` returns on this thread.
        counter.fetch_add(1, StdOrdering::Relaxed);
        f();
    });
    println!(
        "loom model {name}: preemption bound {bound}, {} iterations, {:.1} s",
        // Relaxed: as above.
        runs.load(StdOrdering::Relaxed),
        start.elapsed().as_secs_f64()
    );
}

/// A boxed value whose contents live in a loom-tracked cell inside the box itself: a
/// clone racing the drop is a "Causality violation", a clone after it reads `DEAD`. A
/// tracked allocation, so a payload never freed fails the model ("Allocation leaked").
///
/// Its box is freed through [`Quarantine`], which delays the real deallocation, so a
/// clone of a freed payload reads the dead bytes (and loom reports it) instead of memory
/// the allocator has handed to someone else.
#[derive(Debug)]
struct Payload {
    cell: UnsafeCell<u64>,
    _alloc: Track<()>,
    /// Gives payload boxes a size of their own, so the quarantine delays little else.
    _size: [u64; 61],
}

// SAFETY: what the models check: the array orders every read of a payload's cell (a
// clone by a reader thread) after its creation and before its drop. Every access goes
// through loom's `with`/`with_mut`, so an unordered pair fails the model.
unsafe impl Sync for Payload {}

const DEAD: u64 = u64::MAX;

impl Payload {
    fn new(key: u64) -> Self {
        Payload {
            cell: UnsafeCell::new(key),
            _alloc: Track::new(()),
            _size: [0; 61],
        }
    }

    fn key(&self) -> u64 {
        // SAFETY: loom checks this read against the writes of the cell.
        let key = self.cell.with(|p| unsafe { *p });
        assert_ne!(key, DEAD, "read a payload after it was freed");
        key
    }
}

impl Clone for Payload {
    fn clone(&self) -> Self {
        Payload::new(self.key())
    }
}

impl Default for Payload {
    fn default() -> Self {
        Payload::new(0)
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        // SAFETY: loom checks this write against every other access of the cell.
        self.cell.with_mut(|p| unsafe {
            assert_ne!(*p, DEAD, "payload freed twice");
            *p = DEAD;
        });
    }
}

/// The test binary's allocator: the system's, except that blocks of a payload's layout
/// are freed only after 64 more such blocks have been, so within one loom execution
/// (a handful of payloads) a freed payload's bytes stay as its `drop` left them.
/// Delaying a free never changes what a correct program does.
struct Quarantine;

const QUARANTINE: usize = 64;
static HELD: [AtomicPtr<u8>; QUARANTINE] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; QUARANTINE];
static NEXT_HELD: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every block comes from `System` and goes back to it exactly once, with the
// layout it was allocated with (held blocks all have the payload's layout).
unsafe impl GlobalAlloc for Quarantine {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded; the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let block = if layout == Layout::new::<Payload>() {
            // Relaxed: the slot index needs no ordering; the swap below hands each
            // block to exactly one later dealloc.
            let slot = NEXT_HELD.fetch_add(1, StdOrdering::Relaxed) % QUARANTINE;
            // AcqRel: Release hands this block to the thread that evicts it; Acquire
            // takes over the evicted block from the thread that held it.
            HELD[slot].swap(ptr, StdOrdering::AcqRel)
        } else {
            ptr
        };
        if !block.is_null() {
            // SAFETY: `block` is `ptr` or a block held earlier, each allocated by
            // `System` with `layout` and freed now exactly once.
            unsafe { System.dealloc(block, layout) }
        }
    }
}

#[global_allocator]
static ALLOCATOR: Quarantine = Quarantine;

/// The writer of the reclamation models: replaces node 0's payload in place (the old
/// box goes to the array's collector), then flushes and collects until the collector has
/// advanced its epoch far enough to free it, unless a pinned reader holds it back.
fn replace_and_collect(a: &SnapshotArray<Payload>) {
    a.set_state(0, Payload::new(1)).unwrap();
    a.set_state(0, Payload::new(2)).unwrap();
    for _ in 0..3 {
        local::pin(&a.inner.shared).flush();
    }
}

/// Model 5 (white-box): the replaced box really is freed during the run, and a reader
/// that pinned the array's collector before loading it never sees it freed.
#[test]
fn reclamation_forced() {
    model("reclamation_forced", 2, || {
        let a: Arc<SnapshotArray<Payload>> = Arc::new(SnapshotArray::new(1));
        let w = {
            let a = a.clone();
            thread::spawn(move || replace_and_collect(&a))
        };
        // Read until the writer's first payload (or its replacement) shows up. The retry
        // matters: loom's DPOR keeps only the last access of each atomic, so a reader's
        // single early load of the log is never reordered after the writer's CAS (the
        // writer's own load of the same atomic hides it). A reader that retries after
        // yielding gives the writer's stores a later load to conflict with.
        loop {
            let seen = a.current_state(0).unwrap().key();
            assert!(seen <= 2, "read {seen}");
            if seen != 0 {
                break;
            }
            thread::yield_now();
        }
        w.join().unwrap();
        assert_eq!(a.current_state(0).unwrap().key(), 2);
    });
}

/// The same race with a reader that loads and clones without pinning: loom must find the
/// free racing the clone. (If it did not, `reclamation_forced` would prove nothing.)
#[test]
#[should_panic(expected = "Causality violation")]
fn unpinned_reader_is_caught() {
    model("unpinned_reader_is_caught (must fail)", 2, || {
        let a: Arc<SnapshotArray<Payload>> = Arc::new(SnapshotArray::new(1));
        let w = {
            let a = a.clone();
            thread::spawn(move || replace_and_collect(&a))
        };
        // SAFETY: deliberately wrong: nothing keeps the loaded box alive. This is the
        // bug the model must catch; loom reports it before any real use after free.
        let guard = unsafe { crossbeam_epoch::unprotected() };
        // Retried as in `reclamation_forced`.
        while a.inner.nodes[0].read_current(guard).is_none() {
            thread::yield_now();
        }
        let word = a.inner.nodes[0].read_current(guard).unwrap();
        // SAFETY: as above, deliberately unprotected.
        let _ = unsafe { Word::<Payload>::clone_out(word) };
        w.join().unwrap();
    });
}

/// Announcement slots 0..4 (chunk 0) are held by threads outside the model; two writers
/// then take slots 4 and 5, racing to install chunk 1, while `snap()` scans the slots.
/// A writer whose slot is in a chunk installed after the scan began must still be seen:
/// the snapshot is stable, and each write is either in it or after it, never both.
#[test]
fn registry_chunk_install() {
    model("registry_chunk_install", 3, || {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(2));
        let held: Vec<usize> = (0..4).map(|_| a.inner.shared.registry.acquire()).collect();
        let writers: Vec<_> = [0usize, 1]
            .into_iter()
            .map(|idx| {
                let a = a.clone();
                thread::spawn(move || a.set_state(idx, 1).unwrap())
            })
            .collect();
        let s = a.snap();
        let cut = [a.fetch_state(0, s).unwrap(), a.fetch_state(1, s).unwrap()];
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(
            [a.fetch_state(0, s).unwrap(), a.fetch_state(1, s).unwrap()],
            cut,
            "snapshot {s} changed after snap() returned"
        );
        let s2 = a.snap();
        assert_eq!(
            [a.fetch_state(0, s2).unwrap(), a.fetch_state(1, s2).unwrap()],
            [1, 1]
        );
        for idx in held {
            a.inner.shared.registry.release(idx);
        }
    });
}

/// Node 0 with versions 1 (snapshot 0) and 2 (snapshot 1, returned), both in its first
/// segment: compacting before snapshot 1 leaves that segment half dead, so it is rewritten.
fn half_dead_segment() -> (Arc<SnapshotArray>, SnapshotId) {
    let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
    a.set_state(0, 1).unwrap();
    a.snap();
    a.set_state(0, 2).unwrap();
    let kept = a.snap();
    (a, kept)
}

/// The compactor of the compaction models: compacts before `kept` (with or without the
/// writer barrier), then flushes and collects until the collector frees what it unlinked.
fn compact_and_collect(a: &SnapshotArray, kept: SnapshotId, barrier: bool) {
    if barrier {
        assert_eq!(a.compact(kept).unwrap(), kept);
    } else {
        a.inner.raise_floor(kept.get());
        a.inner.reclaim_without_barrier();
    }
    for _ in 0..3 {
        local::pin(&a.inner.shared).flush();
    }
}

/// The writer of the compaction models: appends to node 0 in a new epoch, racing the
/// rewrite of its segment, then checks nothing it can see was lost.
fn append_during_compaction(a: &SnapshotArray, kept: SnapshotId) {
    a.set_state(0, 3).unwrap();
    assert_eq!(a.fetch_state(0, kept).unwrap(), 2);
    assert_eq!(a.current_state(0).unwrap(), 3);
}

/// Compaction (white-box): the rewritten segment really is freed during the run, and a
/// writer that loaded it before it was unlinked has finished with it first (the barrier
/// `Registry::wait_for_in_flight`; writers do not pin the collector).
#[test]
fn compaction_reclaim_forced() {
    model("compaction_reclaim_forced", 2, || {
        let (a, kept) = half_dead_segment();
        let c = {
            let a = a.clone();
            thread::spawn(move || compact_and_collect(&a, kept, true))
        };
        append_during_compaction(&a, kept);
        c.join().unwrap();
        let next = a.snap();
        assert_eq!(a.fetch_state(0, next).unwrap(), 3);
        assert_eq!(a.fetch_state(0, kept).unwrap(), 2);
    });
}

/// The same race with the writer barrier skipped: loom must find the writer touching the
/// freed segment. (If it did not, `compaction_reclaim_forced` would prove nothing.)
#[test]
#[should_panic(expected = "Causality violation")]
fn compaction_without_barrier_is_caught() {
    model(
        "compaction_without_barrier_is_caught (must fail)",
        2,
        || {
            let (a, kept) = half_dead_segment();
            let c = {
                let a = a.clone();
                thread::spawn(move || compact_and_collect(&a, kept, false))
            };
            append_during_compaction(&a, kept);
            c.join().unwrap();
        },
    );
}
