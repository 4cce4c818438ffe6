//! Goal 4: `snap()` against a bare `fetch_add`, with 0, 1, 2 and 4 writer threads
//! registered (each has written once and then sleeps), at 1e2, 1e4 and 1e6 nodes.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;

use snapstate::SnapshotArray;
use snapstate_benches::goal::{num, Row, Target};
use snapstate_benches::stats::median_ns_per_op;

use crate::Part;

/// The array sizes of goal 4.
const NODES: [usize; 3] = [100, 10_000, 1_000_000];
/// The registered writer counts of goal 4.
const WRITERS: [usize; 4] = [0, 1, 2, 4];
/// Timed batches per measurement; the measurement is their median.
const BATCHES: usize = 16;

/// ns per `snap()` on a fresh array of `nodes` nodes while `writers` threads that have
/// written to it once stay alive, idle. The ids are checked to be 0, 1, 2, ...
fn ns_snap(nodes: usize, writers: usize, snaps: u64) -> f64 {
    let array = SnapshotArray::<u64>::new(nodes);
    let ready = Barrier::new(writers + 1);
    let done = AtomicBool::new(false);
    std::thread::scope(|sc| {
        for t in 0..writers {
            let (array, ready, done) = (&array, &ready, &done);
            sc.spawn(move || {
                array.set_state(t, 1).expect("index in range");
                ready.wait();
                // Acquire: pairs with the Release store below; only a stop flag.
                while !done.load(Ordering::Acquire) {
                    std::thread::park_timeout(std::time::Duration::from_millis(5));
                }
            });
        }
        ready.wait();
        let mut next = 0;
        let ns = median_ns_per_op(BATCHES, snaps / BATCHES as u64, |n| {
            for _ in 0..n {
                let id = array.snap().get();
                if id != next {
                    wrong("snapstate", next, id);
                }
                next += 1;
                black_box(id);
            }
        });
        // Release: pairs with the writers' Acquire loads.
        done.store(true, Ordering::Release);
        ns
    })
}

/// ns per bare `fetch_add` on a fresh counter, its results checked as `ns_snap`'s are.
fn ns_fetch_add(n: u64) -> f64 {
    let c = AtomicU64::new(0);
    let mut next = 0;
    median_ns_per_op(BATCHES, n / BATCHES as u64, |n| {
        for _ in 0..n {
            // Relaxed: the floor of an id hand-out; orders nothing.
            let id = c.fetch_add(1, Ordering::Relaxed);
            if id != next {
                wrong("fetch_add", next, id);
            }
            next += 1;
            black_box(id);
        }
    })
}

#[cold]
#[inline(never)]
fn wrong(what: &str, want: u64, got: u64) -> ! {
    panic!("{what} returned id {got}, expected {want}: ids must be 0, 1, 2, ...")
}

struct Cell {
    nodes: usize,
    writers: usize,
    ours: Vec<f64>,
    base: Vec<f64>,
}

/// Goal 4's measurements.
pub(crate) struct Snaps {
    snaps: u64,
    cells: Vec<Cell>,
}

impl Snaps {
    pub(crate) fn new(quick: bool) -> Self {
        let cells = NODES
            .iter()
            .flat_map(|&nodes| {
                WRITERS.iter().map(move |&writers| Cell {
                    nodes,
                    writers,
                    ours: Vec::new(),
                    base: Vec::new(),
                })
            })
            .collect();
        Snaps {
            snaps: if quick { 1 << 16 } else { 1 << 18 },
            cells,
        }
    }
}

fn short(n: usize) -> String {
    format!("1e{}", (n as f64).log10().round())
}

impl Part for Snaps {
    fn round(&mut self, r: usize) {
        for c in &mut self.cells {
            if r.is_multiple_of(2) {
                c.ours.push(ns_snap(c.nodes, c.writers, self.snaps));
                c.base.push(ns_fetch_add(self.snaps));
            } else {
                c.base.push(ns_fetch_add(self.snaps));
                c.ours.push(ns_snap(c.nodes, c.writers, self.snaps));
            }
        }
    }

    fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .cells
            .iter()
            .map(|c| {
                Row::ratio(
                    &format!("g4.snap.n{}.w{}", short(c.nodes), c.writers),
                    &format!(
                        "snap(), {} nodes, {} writer thread{} registered: time vs bare fetch_add",
                        num(c.nodes as f64),
                        c.writers,
                        if c.writers == 1 { "" } else { "s" }
                    ),
                    "ns",
                    &c.ours,
                    "fetch_add",
                    &c.base,
                    Target::AtMost(3.0),
                )
            })
            .collect();
        // Flat in the number of nodes: the largest array against the smallest, per round.
        let (lo, hi) = (NODES[0], NODES[NODES.len() - 1]);
        for &w in &WRITERS {
            let find = |n| self.cells.iter().find(|c| c.nodes == n && c.writers == w);
            if let (Some(small), Some(big)) = (find(lo), find(hi)) {
                rows.push(Row::ratio(
                    &format!("g4.flat.w{w}"),
                    &format!(
                        "snap() with {w} writer thread{} registered: time at {} nodes vs at {} nodes (flat: within 10%)",
                        if w == 1 { "" } else { "s" },
                        short(hi),
                        short(lo)
                    ),
                    "ns",
                    &big.ours,
                    &format!("{} nodes", short(lo)),
                    &small.ours,
                    Target::AtMost(1.1),
                ));
            }
        }
        rows
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "Goal 4 (`g4.*`): {} back-to-back `snap()`s per measurement on a fresh array (the \
             median of {BATCHES} timed batches, so a preemption in one does not count), the \
             writers spawned for it (each wrote once, then sleeps in `park_timeout`); the \
             baseline is the same loop over a bare `AtomicU64::fetch_add(Relaxed)`, measured \
             right beside it. Ids are checked in both loops.",
            self.snaps
        )]
    }
}
