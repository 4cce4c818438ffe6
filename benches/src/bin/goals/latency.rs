//! Goal 8 (a figure, no target): the latency of single `snap()` calls while 8 writer
//! threads set distinct nodes of the same array on the 2 cores, snapstate beside
//! node-locks, and beside the empty interval (two clock reads) under the same load.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde_json::json;
use snapstate_benches::goal::{Row, Target};
use snapstate_benches::stats::{median, min_max, percentile};
use snapstate_benches::workload::{NODES, WRITTEN};
use snapstate_benches::{NodeLocks, SnapState, Store};

use crate::Part;

/// Writer threads (four per core on the 2-core machine).
const WRITERS: usize = 8;
/// The percentiles reported, with their id suffixes.
const QUANTILES: [(f64, &str); 4] = [(0.5, "p50"), (0.99, "p99"), (0.999, "p99.9"), (1.0, "max")];
/// Bit 61 marks the value each writer leaves in its nodes when it stops.
const FINAL: u64 = 1 << 61;

/// Single `snap()`s (or, with `time_snap` false, empty intervals) timed one by one on
/// this thread while [`WRITERS`] threads set their own slices of a fresh `S`, until
/// `samples` are taken or `budget` has passed. Returns the sorted latencies in ns.
/// Checks the ids and, after the writers stop, every node's final value.
fn latencies<S: Store>(samples: usize, budget: Duration, time_snap: bool) -> Vec<f64> {
    let store = S::new(NODES);
    let per = NODES / WRITERS;
    let start = Barrier::new(WRITERS + 1);
    let stop = AtomicBool::new(false);
    let running = AtomicUsize::new(0);
    let mut out = Vec::with_capacity(samples);
    std::thread::scope(|sc| {
        for t in 0..WRITERS {
            let (store, start, stop, running) = (&store, &start, &stop, &running);
            sc.spawn(move || {
                let base = t * per;
                start.wait();
                let mut n = 0u64;
                let mut first = true;
                // Relaxed: a stop flag; the final values are published by the join.
                while !stop.load(Ordering::Relaxed) {
                    for k in 0..per {
                        store.set_state(base + k, WRITTEN | n);
                        n += 1;
                    }
                    if first {
                        // Relaxed: a count the snapper waits on; it orders nothing.
                        running.fetch_add(1, Ordering::Relaxed);
                        first = false;
                    }
                }
                for k in 0..per {
                    store.set_state(base + k, WRITTEN | FINAL | (base + k) as u64);
                }
            });
        }
        start.wait();
        // Sample only once every writer has written (and so is registered with the
        // array): before that, snap() has fewer writers to wait for.
        // Relaxed: see the writers' increment.
        while running.load(Ordering::Relaxed) < WRITERS {
            std::thread::yield_now();
        }
        let mut last = None;
        let began = Instant::now();
        for _ in 0..samples {
            let t0 = Instant::now();
            let id = if time_snap { Some(store.snap()) } else { None };
            let t1 = Instant::now();
            out.push((t1 - t0).as_nanos() as f64);
            if t1 - began > budget {
                break;
            }
            if let Some(id) = id {
                assert!(
                    last.is_none_or(|l| id > l),
                    "{}: snap() returned {id} after {last:?}",
                    S::NAME
                );
                last = Some(id);
            }
        }
        // Relaxed: see the writers' load.
        stop.store(true, Ordering::Relaxed);
    });
    let s = store.snap();
    for i in 0..NODES {
        let v = store.fetch_state(i, s);
        assert_eq!(
            v,
            WRITTEN | FINAL | i as u64,
            "{}: node {i} after the writers stopped",
            S::NAME
        );
    }
    out.sort_by(f64::total_cmp);
    out
}

/// Per-round figures of one side: `q[k][r]` for quantile `k` in round `r`, and the
/// snaps completed per second.
#[derive(Default)]
struct Side {
    q: [Vec<f64>; 4],
    count: Vec<f64>,
    per_sec: Vec<f64>,
}

impl Side {
    fn push(&mut self, sorted: &[f64]) {
        for (k, (q, _)) in QUANTILES.iter().enumerate() {
            self.q[k].push(percentile(sorted, *q));
        }
        let total: f64 = sorted.iter().sum();
        self.count.push(sorted.len() as f64);
        self.per_sec.push(sorted.len() as f64 / (total / 1e9));
    }
}

/// Goal 8's measurements.
pub(crate) struct Latency {
    samples: usize,
    budget: Duration,
    ours: Side,
    base: Side,
    timer: Side,
}

impl Latency {
    pub(crate) fn new(quick: bool) -> Self {
        Latency {
            samples: if quick { 20_000 } else { 200_000 },
            budget: Duration::from_millis(if quick { 200 } else { 1000 }),
            ours: Side::default(),
            base: Side::default(),
            timer: Side::default(),
        }
    }
}

impl Part for Latency {
    fn round(&mut self, r: usize) {
        let (n, b) = (self.samples, self.budget);
        // Rotate the order of the three runs from round to round.
        for k in 0..3 {
            match (k + r) % 3 {
                0 => self.ours.push(&latencies::<SnapState>(n, b, true)),
                1 => self.base.push(&latencies::<NodeLocks>(n, b, true)),
                _ => self.timer.push(&latencies::<SnapState>(n, b, false)),
            }
        }
    }

    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for (k, (_, name)) in QUANTILES.iter().enumerate() {
            rows.push(Row::ratio(
                &format!("g8.snap-{name}"),
                &format!("snap() latency {name}, {WRITERS} writer threads on the same array: vs node-locks' snap() (a figure, no target)"),
                "ns",
                &self.ours.q[k],
                "node-locks",
                &self.base.q[k],
                Target::None,
            ));
        }
        rows.push(Row::ratio(
            "g8.snaps-per-s",
            &format!(
                "snap()s completed per second of the snapping thread's timed calls (median {} vs {} samples a round)",
                snapstate_benches::goal::num(median(&self.ours.count)),
                snapstate_benches::goal::num(median(&self.base.count))
            ),
            "/s",
            &self.ours.per_sec,
            "node-locks",
            &self.base.per_sec,
            Target::None,
        ));
        let t: Vec<String> = QUANTILES
            .iter()
            .enumerate()
            .map(|(k, (_, name))| {
                format!(
                    "{name} {}",
                    snapstate_benches::goal::num(median(&self.timer.q[k]))
                )
            })
            .collect();
        let (lo, hi) = min_max(&self.timer.q[2]);
        rows.push(Row::derived(
            "g8.timer-p99.9",
            &format!(
                "the empty interval (two clock reads) under the same load, ns: {} (the floor under the rows above)",
                t.join(", ")
            ),
            median(&self.timer.q[2]),
            (lo, hi),
            Target::None,
            json!({ "quantiles": QUANTILES.iter().map(|q| q.1).collect::<Vec<_>>(), "per_round": self.timer.q }),
        ));
        if let Some(last) = rows.last_mut() {
            last.figure_unit = "ns".into();
        }
        rows
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "Goal 8 (`g8.*`): up to {} single `snap()`s per side per round, or as many as fit \
             in {} ms, each timed with two `Instant::now()` on a 9th thread while {WRITERS} threads set their own {}-node slices of a fresh \
             {NODES}-node array; per-round percentiles (nearest rank), medians over rounds. \
             A writer descheduled inside its announcement makes snapstate's `snap()` wait: \
             p99.9 and max say for how long. Every node's final value is checked afterwards.",
            self.samples,
            self.budget.as_millis(),
            NODES / WRITERS
        )]
    }
}
