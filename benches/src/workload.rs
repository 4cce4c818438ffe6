//! The workloads, each a per-thread loop generic over the [`Store`].
//!
//! | workload | what each thread does |
//! |---|---|
//! | `set-distinct` | sets the nodes of its own slice of the array round-robin; a `snap()` after every 99 sets |
//! | `set-hot` | sets node 0 (all threads the same node); a `snap()` after every 99 sets |
//! | `write-heavy` | 90% set / 9% fetch / 1% snap, random nodes, fetches at random taken snapshots |
//! | `read-heavy` | 9% set / 90% fetch / 1% snap |
//! | `snap-heavy` | 45% set / 35% fetch / 20% snap |
//! | (whole-snapshot reads) | measured by the `snapshot_read` criterion bench, not by this harness |
//!
//! Every store is first [`prefill`]ed with [`PREFILL_SNAPS`] snapshots of every node, so
//! fetches always have history to search. The `control` loop (pure computation on
//! thread-local data, no shared memory) is run by the harness beside them to show how
//! far the machine itself scales.
//!
//! # Answers are checked
//!
//! Every read a workload makes is checked, inside the timed loop (one compare, the same
//! for every implementation), and [`measure`] checks every node once more after the
//! run: a snapshot taken by the prefill must read exactly the prefill's value
//! ([`prefill_value`]), a later one either the prefill's last value or a value a
//! workload wrote (every such value carries the [`WRITTEN`] bit), and the snapshot ids
//! one thread gets must increase. A wrong answer panics with the implementation's name,
//! so a broken core fails CI's bench step; nothing here checks a speed.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use crate::rng::XorShift;
use crate::Store;

/// Nodes in every workload's array (the goals' 1024).
pub const NODES: usize = 1024;
/// Snapshots taken by [`prefill`] before a measurement.
pub const PREFILL_SNAPS: u64 = 64;
/// Set in every value a workload writes (never in a [`prefill_value`]), so a read can
/// tell the two apart.
pub const WRITTEN: u64 = 1 << 62;

/// The value [`prefill`] gives node `idx` in snapshot `snap` (`snap < PREFILL_SNAPS`).
#[inline(always)]
pub fn prefill_value(snap: u64, idx: usize) -> u64 {
    snap * 1_000_003 + idx as u64
}

/// Panics unless `v` is a possible answer of `fetch_state(idx, snap)` on a store that
/// was [`prefill`]ed and then only written by [`run`] (see the module docs).
#[inline(always)]
pub fn check_read<S: Store>(idx: usize, snap: u64, v: u64) {
    let ok = if snap < PREFILL_SNAPS {
        v == prefill_value(snap, idx)
    } else {
        v & WRITTEN != 0 || v == prefill_value(PREFILL_SNAPS - 1, idx)
    };
    if !ok {
        wrong_read(S::NAME, idx, snap, v);
    }
}

#[cold]
#[inline(never)]
fn wrong_read(store: &str, idx: usize, snap: u64, v: u64) -> ! {
    panic!(
        "{store}: fetch_state({idx}, {snap}) returned {v}, which no write put there \
         (a snapshot below {PREFILL_SNAPS} must read the prefill's value {}, a later one \
         the prefill's last value or a value with bit 62 set): the implementation is broken",
        if snap < PREFILL_SNAPS {
            prefill_value(snap, idx)
        } else {
            prefill_value(PREFILL_SNAPS - 1, idx)
        }
    )
}

/// Panics unless `id` comes after `last`, the previous id this thread got (`None` for
/// its first).
#[inline(always)]
fn check_snap<S: Store>(last: Option<u64>, id: u64) {
    if id < PREFILL_SNAPS || last.is_some_and(|l| id <= l) {
        wrong_snap(S::NAME, last, id);
    }
}

#[cold]
#[inline(never)]
fn wrong_snap(store: &str, last: Option<u64>, id: u64) -> ! {
    panic!(
        "{store}: snap() returned {id} after this thread's previous snap() returned {last:?} \
         (ids must increase, and the prefill took 0..{PREFILL_SNAPS}): the implementation is broken"
    )
}

/// One workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Distinct nodes per thread, a snap every 100 operations.
    SetDistinct,
    /// One node shared by every thread, a snap every 100 operations.
    SetHot,
    /// 90% set / 9% fetch / 1% snap.
    WriteHeavy,
    /// 9% set / 90% fetch / 1% snap.
    ReadHeavy,
    /// 45% set / 35% fetch / 20% snap.
    SnapHeavy,
}

impl Workload {
    /// Every workload the harness runs, in table order.
    pub const ALL: [Workload; 5] = [
        Workload::SetDistinct,
        Workload::SetHot,
        Workload::WriteHeavy,
        Workload::ReadHeavy,
        Workload::SnapHeavy,
    ];

    /// The workload's name in tables and bench ids.
    pub fn name(self) -> &'static str {
        match self {
            Workload::SetDistinct => "set-distinct",
            Workload::SetHot => "set-hot",
            Workload::WriteHeavy => "write-heavy",
            Workload::ReadHeavy => "read-heavy",
            Workload::SnapHeavy => "snap-heavy",
        }
    }

    /// Percentages of (set, fetch) for the mixes; the rest are snaps.
    fn mix(self) -> Option<(u64, u64)> {
        match self {
            Workload::WriteHeavy => Some((90, 9)),
            Workload::ReadHeavy => Some((9, 90)),
            Workload::SnapHeavy => Some((45, 35)),
            Workload::SetDistinct | Workload::SetHot => None,
        }
    }
}

/// Gives every node [`PREFILL_SNAPS`] versions, one per snapshot. Returns the number
/// of snapshots taken.
///
/// # Panics
///
/// If the store's snapshot ids are not `0, 1, 2, ...` (a broken implementation).
pub fn prefill<S: Store>(store: &S, nodes: usize) -> u64 {
    for v in 0..PREFILL_SNAPS {
        for i in 0..nodes {
            store.set_state(i, prefill_value(v, i));
        }
        let id = store.snap();
        assert_eq!(
            id,
            v,
            "{}: the prefill's snap() ids must be 0, 1, 2, ...",
            S::NAME
        );
    }
    PREFILL_SNAPS
}

/// Runs `ops` operations of `w` as thread `t` of `threads` on a prefilled store of
/// `nodes` nodes. Returns a checksum of what was read (so no read is optimised away).
///
/// # Panics
///
/// On a wrong answer (see the module docs).
#[inline(never)]
pub fn run<S: Store>(
    store: &S,
    w: Workload,
    t: usize,
    threads: usize,
    nodes: usize,
    ops: u64,
) -> u64 {
    let mut rng = XorShift::new(0x5EED ^ ((t as u64) << 32) ^ ops);
    let mut sum = 0u64;
    let mut last = None;
    match w {
        Workload::SetDistinct => {
            let per = (nodes / threads.max(1)).max(1);
            let base = (t * per) % nodes;
            let mut k = 0;
            for op in 0..ops {
                if op % 100 == 99 {
                    let id = store.snap();
                    check_snap::<S>(last, id);
                    last = Some(id);
                    sum = sum.wrapping_add(id);
                } else {
                    store.set_state(base + k, WRITTEN | op);
                    k += 1;
                    if k == per || base + k == nodes {
                        k = 0;
                    }
                }
            }
        }
        Workload::SetHot => {
            for op in 0..ops {
                if op % 100 == 99 {
                    let id = store.snap();
                    check_snap::<S>(last, id);
                    last = Some(id);
                    sum = sum.wrapping_add(id);
                } else {
                    store.set_state(0, WRITTEN | op);
                }
            }
        }
        _ => {
            let (set, fetch) = w.mix().unwrap_or((100, 0));
            // Ids below `known` are taken: the prefill's, then this thread's own snaps.
            let mut known = PREFILL_SNAPS;
            for op in 0..ops {
                let r = rng.next_u64();
                let pick = (r & 0xFFFF) % 100;
                let idx = ((((r >> 16) & 0xFFFF_FFFF) * nodes as u64) >> 32) as usize;
                if pick < set {
                    store.set_state(idx, WRITTEN | op);
                } else if pick < set + fetch {
                    let s = ((r >> 48) * known) >> 16;
                    let v = store.fetch_state(idx, s);
                    check_read::<S>(idx, s, v);
                    sum = sum.wrapping_add(v);
                } else {
                    let id = store.snap();
                    check_snap::<S>(last, id);
                    last = Some(id);
                    known = id + 1;
                }
            }
        }
    }
    black_box(sum)
}

/// Operations run on one store before it is replaced by a fresh one in [`timed`], so
/// that long measurements do not grow the history (and resident memory) without bound.
pub const CHUNK_OPS: u64 = 1 << 19;

/// Runs `total` operations of `w` split over `threads` threads, on fresh prefilled
/// stores of `nodes` nodes (a new one every [`CHUNK_OPS`] operations per thread), and
/// returns the time spent inside the runs only: building, prefilling and dropping the
/// stores is not timed. For criterion's `iter_custom`.
pub fn timed<S: Store>(w: Workload, threads: usize, nodes: usize, total: u64) -> Duration {
    let threads = threads.max(1);
    let mut left = total.div_ceil(threads as u64);
    let mut spent = Duration::ZERO;
    while left > 0 {
        let ops = left.min(CHUNK_OPS);
        left -= ops;
        spent += Duration::from_secs_f64(measure::<S>(w, threads, nodes, ops));
    }
    spent
}

/// Runs `ops` operations of `w` per thread on `threads` workers of the [global
/// pool](crate::pool::global), on a fresh store of `nodes` nodes that has been
/// [`prefill`]ed and warmed up (100 operations per thread, untimed). Returns the
/// seconds from the first worker's start to the last one's end. Building, prefilling,
/// the final check of every node ([`check_store`]) and dropping the store are not timed.
///
/// # Panics
///
/// On a wrong answer (see the module docs).
pub fn measure<S: Store>(w: Workload, threads: usize, nodes: usize, ops: u64) -> f64 {
    let store = Arc::new(S::new(nodes));
    prefill(&*store, nodes);
    let pool = crate::pool::global();
    let s = Arc::clone(&store);
    pool.span(
        threads,
        Arc::new(move |t| {
            run(&*s, w, t, threads, nodes, 100);
        }),
    );
    let s = Arc::clone(&store);
    let secs = pool.span(
        threads,
        Arc::new(move |t| {
            run(&*s, w, t, threads, nodes, ops);
        }),
    );
    check_store(&*store, nodes);
    drop(store);
    secs
}

/// Takes a snapshot of a store that was [`prefill`]ed and then written only by [`run`],
/// and checks every node in it, one by one and as a whole ([`Store::read_snapshot`]),
/// and in the prefill's first and last snapshots.
///
/// # Panics
///
/// On a wrong answer (see the module docs).
pub fn check_store<S: Store>(store: &S, nodes: usize) {
    let s = store.snap();
    let mut out = Vec::with_capacity(nodes);
    store.read_snapshot(s, nodes, &mut out);
    assert_eq!(out.len(), nodes, "{}: read_snapshot's length", S::NAME);
    for (i, &whole) in out.iter().enumerate() {
        let v = store.fetch_state(i, s);
        check_read::<S>(i, s, v);
        assert_eq!(
            whole,
            v,
            "{}: read_snapshot({s}) and fetch_state({i}, {s}) disagree",
            S::NAME
        );
        for p in [0, PREFILL_SNAPS - 1] {
            check_read::<S>(i, p, store.fetch_state(i, p));
        }
    }
}

/// The control loop: `ops` steps of pure computation on registers, about as long as a
/// cheap operation, touching no shared memory.
#[inline(never)]
pub fn control(t: usize, ops: u64) -> u64 {
    let mut rng = XorShift::new(t as u64 + 1);
    let mut acc = 0u64;
    for _ in 0..ops {
        let x = rng.next_u64();
        acc = acc
            .wrapping_add(x.rotate_left(7) ^ (x >> 3))
            .wrapping_mul(3);
    }
    black_box(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{for_each_store, StoreVisitor};

    /// Every workload runs on every store, single- and multi-threaded, and every store
    /// agrees with the classic solution on a sequential history.
    struct Check;
    impl StoreVisitor for Check {
        fn visit<S: Store>(&mut self) {
            let s = S::new(64);
            assert_eq!(prefill(&s, 64), PREFILL_SNAPS);
            assert_eq!(s.fetch_state(3, 0), 3, "{}", S::NAME);
            assert_eq!(
                s.fetch_state(3, PREFILL_SNAPS - 1),
                (PREFILL_SNAPS - 1) * 1_000_003 + 3,
                "{}",
                S::NAME
            );
            s.set_state(3, WRITTEN | 77);
            let id = s.snap();
            assert_eq!(id, PREFILL_SNAPS, "{}", S::NAME);
            s.set_state(3, WRITTEN | 78);
            assert_eq!(s.fetch_state(3, id), WRITTEN | 77, "{}", S::NAME);
            let mut out = Vec::new();
            s.read_snapshot(id, 64, &mut out);
            assert_eq!(out.len(), 64);
            assert_eq!(out[3], WRITTEN | 77, "{}", S::NAME);
            for w in Workload::ALL {
                std::thread::scope(|sc| {
                    for t in 0..2 {
                        let s = &s;
                        sc.spawn(move || run(s, w, t, 2, 64, 500));
                    }
                });
            }
            // Snapshot `id` is fixed forever, whatever ran since.
            assert_eq!(s.fetch_state(3, id), WRITTEN | 77, "{}", S::NAME);
            check_store(&s, 64);
        }
    }

    #[test]
    fn every_workload_runs_on_every_store() {
        for_each_store(&mut Check);
    }

    #[test]
    fn measure_runs_every_workload_on_the_pool() {
        for w in Workload::ALL {
            assert!(measure::<crate::NodeLocks>(w, 2, 64, 300) > 0.0);
        }
    }

    #[test]
    #[should_panic(expected = "no write put there")]
    fn a_wrong_answer_panics() {
        check_read::<crate::NodeLocks>(5, 2, prefill_value(2, 5) + 1);
    }

    #[test]
    #[should_panic(expected = "ids must increase")]
    fn a_repeated_snapshot_id_panics() {
        check_snap::<crate::NodeLocks>(Some(70), 70);
    }

    #[test]
    fn control_is_deterministic() {
        assert_eq!(control(1, 1000), control(1, 1000));
        assert_ne!(control(1, 1000), control(2, 1000));
    }
}
