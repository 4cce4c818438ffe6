//! Per-thread state: for each array a thread has used, its announcement slot and its
//! registration with the array's crossbeam-epoch collector.
//!
//! Both are created on a thread's first call into an array and kept in a thread-local
//! map keyed by the array's id; a one-entry cache in front of it makes the common case (a
//! thread working on one array) a single thread-local load, and a miss costs one hash
//! lookup however many arrays the thread uses. When the thread exits the map is dropped:
//! slots return to their arrays' pools and collector handles unregister. Entries of arrays
//! that were dropped are pruned when an insert finds the map twice as large as after the
//! last pruning, so pruning costs `O(1)` amortised per new entry and the map holds at most
//! about twice the arrays the thread still uses.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use crossbeam_epoch::{Collector, Guard, LocalHandle};
use rustc_hash::FxBuildHasher;

use crate::announce::{Registry, Slot};
use crate::sync::{thread_local, Arc, Ordering};

/// What a thread-local entry needs to know about its array. Shared by the array and the
/// entries of every thread that used it, so an entry outlives its array safely.
#[derive(Debug)]
pub(crate) struct Shared {
    /// A process-wide unique id, never reused (array addresses can be).
    pub(crate) id: u64,
    pub(crate) registry: Registry,
    pub(crate) collector: Collector,
    /// Set when the array is dropped, so entries for it can be pruned.
    closed: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub(crate) fn new() -> Arc<Self> {
        // Not modelled by loom on purpose: a process-wide id source that no algorithm
        // step depends on beyond equality.
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registry: Registry::new(),
            collector: Collector::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Called by the array's `Drop`.
    pub(crate) fn close(&self) {
        // Relaxed: only a hint for pruning; a stale read keeps an entry one lookup longer.
        self.closed.store(true, Ordering::Relaxed);
    }
}

struct Entry {
    /// Registered on the thread's first pinned access: threads that only write primitive
    /// values never touch the collector. Boxed so the cache can point at it.
    ///
    /// Declared first so it is dropped first: the handle must unregister while `shared`
    /// still holds the collector. If the handle held the last reference, crossbeam-epoch
    /// would free the collector's list from inside the handle's own finalisation, which
    /// Miri reports as a use of a freed `Local`.
    handle: Option<Box<LocalHandle>>,
    /// Taken on the thread's first write: threads that only read never make `snap()`
    /// scan a slot for them.
    slot: Option<usize>,
    shared: Arc<Shared>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(idx) = self.slot {
            self.shared.registry.release(idx);
        }
    }
}

/// The thread's entries by array id, and the map size below which no pruning is tried.
/// Dropping it (at thread exit) empties the cache first.
struct Entries(RefCell<Map>);

struct Map {
    by_id: HashMap<u64, Entry, FxBuildHasher>,
    /// Prune entries of closed arrays when an insert would grow the map past this.
    prune_at: usize,
}

impl Map {
    const MIN_PRUNE_AT: usize = 8;

    const fn new() -> Self {
        Map {
            by_id: HashMap::with_hasher(FxBuildHasher),
            prune_at: Self::MIN_PRUNE_AT,
        }
    }

    /// The entry for `shared`, created if the thread has none.
    fn entry(&mut self, shared: &Arc<Shared>) -> &mut Entry {
        // The size test first: a thread moving between its live arrays looks each up once.
        if self.by_id.len() >= self.prune_at && !self.by_id.contains_key(&shared.id) {
            // Relaxed: a pruning hint, see `Shared::close`.
            self.by_id
                .retain(|_, e| !e.shared.closed.load(Ordering::Relaxed));
            self.prune_at = (self.by_id.len() * 2).max(Self::MIN_PRUNE_AT);
        }
        self.by_id.entry(shared.id).or_insert_with(|| Entry {
            handle: None,
            slot: None,
            shared: Arc::clone(shared),
        })
    }
}

impl Drop for Entries {
    fn drop(&mut self) {
        // Under loom, a model that failed drops its threads' locals while unwinding,
        // outside the execution, where touching any loom object panics again and aborts
        // the whole test binary. The model has already failed: leak the entries.
        #[cfg(snapstate_loom)]
        if std::thread::panicking() {
            std::mem::forget(std::mem::take(&mut self.0.get_mut().by_id));
            return;
        }
        let _ = CACHE.try_with(|c| c.set(Cached::NONE));
    }
}

/// The last array this thread used, with raw pointers into its entry. Valid while the
/// entry lives: entries are removed only when their array is closed (and array ids are
/// never reused, so a stale id never matches a live array) or when `Entries` is dropped,
/// which clears the cache first. The pointers are to the slot (in the array's registry)
/// and to the boxed handle, neither of which moves when the map rehashes.
#[derive(Clone, Copy)]
struct Cached {
    id: u64,
    slot: *const Slot,
    handle: *const LocalHandle,
}

impl Cached {
    const NONE: Cached = Cached {
        id: u64::MAX,
        slot: std::ptr::null(),
        handle: std::ptr::null(),
    };
}

#[cfg(not(snapstate_loom))]
thread_local! {
    static ENTRIES: Entries = const { Entries(RefCell::new(Map::new())) };
    static CACHE: Cell<Cached> = const { Cell::new(Cached::NONE) };
}

// loom's macro has no `const` form; the initial values are the same.
#[cfg(snapstate_loom)]
thread_local! {
    static ENTRIES: Entries = Entries(RefCell::new(Map::new()));
    static CACHE: Cell<Cached> = Cell::new(Cached::NONE);
}

/// A writer's announcement slot for the length of one `set_state`.
pub(crate) struct WriterSlot<'a> {
    slot: &'a Slot,
    /// Set when the thread-local list was unavailable (a call made from inside a
    /// destructor that the collector runs, or during thread teardown): the slot is then
    /// borrowed for this call only.
    temporary: Option<(&'a Shared, usize)>,
}

impl std::ops::Deref for WriterSlot<'_> {
    type Target = Slot;

    #[inline]
    fn deref(&self) -> &Slot {
        self.slot
    }
}

impl Drop for WriterSlot<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some((shared, idx)) = self.temporary {
            shared.registry.release(idx);
        }
    }
}

/// The calling thread's announcement slot in `shared`.
#[inline]
pub(crate) fn slot(shared: &Arc<Shared>) -> WriterSlot<'_> {
    let cached = CACHE.try_with(Cell::get).unwrap_or(Cached::NONE);
    if cached.id == shared.id && !cached.slot.is_null() {
        // SAFETY: the cache points into this thread's live entry for `shared` (see
        // `Cached`); the slot lives in `shared.registry`, which `shared` keeps alive for
        // at least `'_`.
        let slot = unsafe { &*cached.slot };
        return WriterSlot {
            slot,
            temporary: None,
        };
    }
    slot_slow(shared)
}

#[cold]
fn slot_slow(shared: &Arc<Shared>) -> WriterSlot<'_> {
    match with_entry(shared, |entry| {
        *entry.slot.get_or_insert_with(|| shared.registry.acquire())
    }) {
        Some(idx) => WriterSlot {
            slot: slot_of(shared, idx),
            temporary: None,
        },
        None => {
            let idx = shared.registry.acquire();
            WriterSlot {
                slot: slot_of(shared, idx),
                temporary: Some((shared, idx)),
            }
        }
    }
}

/// A guard pinned on `shared`'s collector for the calling thread.
#[inline]
pub(crate) fn pin(shared: &Arc<Shared>) -> Guard {
    let cached = CACHE.try_with(Cell::get).unwrap_or(Cached::NONE);
    if cached.id == shared.id && !cached.handle.is_null() {
        // SAFETY: as in `slot`; the handle is boxed in the live entry. Pinning may run
        // deferred destructors, which may call into other arrays and replace the cache,
        // but never remove this array's entry (it is not closed: we hold `&shared`).
        return unsafe { &*cached.handle }.pin();
    }
    pin_slow(shared)
}

#[cold]
fn pin_slow(shared: &Arc<Shared>) -> Guard {
    let handle = with_entry(shared, |entry| {
        let handle = entry
            .handle
            .get_or_insert_with(|| Box::new(shared.collector.register()));
        &**handle as *const LocalHandle
    });
    match handle {
        // SAFETY: points into the live entry, as in `pin`.
        Some(handle) => unsafe { &*handle }.pin(),
        // The guard keeps the registration alive after the temporary handle is dropped.
        None => shared.collector.register().pin(),
    }
}

/// Runs `f` on this thread's entry for `shared` (creating it), and refreshes the cache.
/// `None` if the thread-local list is unavailable (re-entered, or torn down).
fn with_entry<R>(shared: &Arc<Shared>, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
    ENTRIES
        .try_with(|entries| {
            let mut entries = entries.0.try_borrow_mut().ok()?;
            let entry = entries.entry(shared);
            let out = f(entry);
            let cached = Cached {
                id: shared.id,
                slot: entry
                    .slot
                    .map_or(std::ptr::null(), |idx| slot_of(shared, idx) as *const Slot),
                handle: entry
                    .handle
                    .as_deref()
                    .map_or(std::ptr::null(), |h| h as *const LocalHandle),
            };
            let _ = CACHE.try_with(|c| c.set(cached));
            Some(out)
        })
        .ok()
        .flatten()
}

fn slot_of(shared: &Shared, idx: usize) -> &Slot {
    shared
        .registry
        .get(idx)
        .expect("a slot index handed out by acquire has its chunk installed")
}

#[cfg(all(test, not(snapstate_loom)))]
mod tests {
    use super::*;
    use crate::{SnapshotArray, SnapshotId};

    fn entries() -> usize {
        ENTRIES.with(|e| e.0.borrow().by_id.len())
    }

    #[test]
    fn many_arrays_on_one_thread_each_keep_their_own_state() {
        std::thread::spawn(|| {
            let n = if cfg!(miri) { 20 } else { 300 };
            let arrays: Vec<SnapshotArray> = (0..n).map(|_| SnapshotArray::new(2)).collect();
            for round in 0..3u64 {
                for (i, a) in arrays.iter().enumerate() {
                    a.set_state(i % 2, round * 1000 + i as u64).unwrap();
                    let s = a.snap();
                    assert_eq!(a.fetch_state(i % 2, s).unwrap(), round * 1000 + i as u64);
                }
            }
            assert_eq!(entries(), n, "one entry per live array");
            for (i, a) in arrays.iter().enumerate() {
                assert_eq!(a.current_state(i % 2).unwrap(), 2000 + i as u64);
                assert_eq!(a.fetch_state(i % 2, SnapshotId::from(0)).unwrap(), i as u64);
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn entries_of_dropped_arrays_are_pruned() {
        std::thread::spawn(|| {
            let keep: SnapshotArray = SnapshotArray::new(1);
            keep.set_state(0, 1).unwrap();
            for i in 0..if cfg!(miri) { 40 } else { 10_000u64 } {
                let a: SnapshotArray = SnapshotArray::new(1);
                a.set_state(0, i).unwrap();
                assert_eq!(a.fetch_state(0, a.snap()).unwrap(), i);
                // One live array besides the kept one: the map never holds more than
                // about twice the live arrays (or the minimum before pruning).
                assert!(entries() <= Map::MIN_PRUNE_AT + 1, "{} entries", entries());
            }
            assert_eq!(keep.current_state(0).unwrap(), 1);
        })
        .join()
        .unwrap();
    }
}
