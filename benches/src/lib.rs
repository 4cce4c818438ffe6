//! Benchmarks for `snapstate`: the baselines a user would otherwise pick, the workloads,
//! and the helpers shared by the criterion benches (`benches/`) and the binaries
//! (`scaling`, `goals`, `memory`, `opcount`).
//!
//! Every implementation sits behind one small trait, [`Store`], and every workload is
//! generic over it, so each workload runs on each implementation with static dispatch
//! (a virtual call would cost about as much as the cheapest operation measured).
//! [`for_each_store`] visits them all in a fixed order.
//!
//! # Implementations and linearizability
//!
//! | name | what | linearizable |
//! |---|---|---|
//! | `snapstate` | [`snapstate::SnapshotArray`] | yes (announcements, see its crate docs) |
//! | `std-mutex` | the classic solution behind `std::sync::Mutex` | yes (one lock) |
//! | `pl-mutex` | the classic solution behind `parking_lot::Mutex` | yes (one lock) |
//! | `pl-rwlock` | the classic solution behind `parking_lot::RwLock` | yes (one lock) |
//! | `node-locks` | a cache-padded `parking_lot::Mutex` per node, an atomic counter | yes: the counter is read *inside* the node's lock |
//! | `skiplist` | `crossbeam_skiplist::SkipMap` keyed by `(node, epoch)`, an atomic counter | **no**: the trap (below) |
//! | `cow-arcswap` | `rpds::VectorSync` snapshots behind `arc_swap::ArcSwap`, updated by RCU | yes: every operation is one pointer load or CAS |
//!
//! *The trap*: a writer reads the counter (`e`), `snap()` moves it to `e + 1` and
//! returns `e`, a reader fetches `(i, e)` and sees the old value, then the writer inserts
//! its value under `e`, and `(i, e)` now reads the new value: snapshot `e` changed after
//! `snap()` returned it. The skiplist baseline does exactly that (read the counter, then
//! insert), so it is faster than a correct design has any right to be; it is here because
//! it is what a user would write first. `node-locks` escapes the trap only because the
//! writer reads the counter while holding the node's lock: a reader of `(i, e)` that
//! comes after `snap()` returned `e` takes the same lock, so it either sees the write or
//! runs before the writer's counter read, which then returns `e + 1`.
//!
//! Whole-snapshot reads (all nodes at one snapshot) arrive with issue 5; see
//! [`Store::read_snapshot`] for the slot they will fill.
#![allow(clippy::new_without_default)]

pub mod baselines;
pub mod child;
pub mod goal;
pub mod machine;
pub mod pool;
pub mod report;
pub mod rng;
pub mod stats;
pub mod workload;

pub use baselines::{
    Classic, CowArcSwap, Locked, NodeLocks, PlMutex, PlRwLock, SkipList, SnapState, StdMutex,
};

/// The operations every implementation offers, over `u64` states.
///
/// Snapshot ids are `u64`s handed out from 0. `fetch_state` is only called with ids a
/// `snap()` has returned.
pub trait Store: Send + Sync + 'static {
    /// A short name used in tables, plots and bench ids.
    const NAME: &'static str;
    /// Whether the implementation is linearizable (see the crate docs).
    const LINEARIZABLE: bool;

    /// `n` nodes, all 0.
    fn new(n: usize) -> Self;
    /// Sets node `idx` to `v`.
    fn set_state(&self, idx: usize, v: u64);
    /// Takes a snapshot and returns its id.
    fn snap(&self) -> u64;
    /// Node `idx` as of snapshot `s`.
    fn fetch_state(&self, idx: usize, s: u64) -> u64;

    /// All nodes as of snapshot `s`, into `out` (cleared first).
    ///
    /// The default reads node by node, which is what the baselines without a bulk read
    /// would do. `SnapState` overrides it with `SnapshotArray::fetch_all`, the lock
    /// baselines with one lock hold; the `snapshot_read` bench measures it.
    fn read_snapshot(&self, s: u64, n: usize, out: &mut Vec<u64>) {
        out.clear();
        out.extend((0..n).map(|i| self.fetch_state(i, s)));
    }
}

/// Something that runs once per implementation; see [`for_each_store`].
pub trait StoreVisitor {
    /// Called once for each implementation, in [`for_each_store`]'s order.
    fn visit<S: Store>(&mut self);
}

/// Calls `v.visit::<S>()` for every implementation: snapstate first, then the baselines.
pub fn for_each_store(v: &mut impl StoreVisitor) {
    v.visit::<SnapState>();
    v.visit::<StdMutex>();
    v.visit::<PlMutex>();
    v.visit::<PlRwLock>();
    v.visit::<NodeLocks>();
    v.visit::<SkipList>();
    v.visit::<CowArcSwap>();
}

/// The names [`for_each_store`] visits, in order.
pub fn store_names() -> Vec<&'static str> {
    struct Names(Vec<&'static str>);
    impl StoreVisitor for Names {
        fn visit<S: Store>(&mut self) {
            self.0.push(S::NAME);
        }
    }
    let mut n = Names(Vec::new());
    for_each_store(&mut n);
    n.0
}
