//! Every time goal of issue 4 as a ratio measured in one run: the implementations are
//! interleaved round by round and medians are compared.
//!
//! ```sh
//! cargo run -p snapstate-benches --release --bin goals            # 15 rounds
//! cargo run -p snapstate-benches --release --bin goals -- --quick # 3 rounds
//! ```
//!
//! Memory is measured by the `memory` binary, and "ahead of every baseline" by the
//! `scaling` harness.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use snapstate_benches::pool;
use snapstate_benches::rng::XorShift;
use snapstate_benches::stats::{median, ns_per_op};
use snapstate_benches::workload::{self, Workload, NODES};
use snapstate_benches::{Classic, PlMutex, SnapState, Store};

/// Nanoseconds per op of `w` on a fresh prefilled `S`, `threads` pool workers of
/// `ops` each: the span from the first worker's start to the last one's end, per op.
fn ns_workload<S: Store>(w: Workload, threads: usize, ops: u64) -> f64 {
    workload::measure::<S>(w, threads, NODES, ops) * 1e9 / (threads as u64 * ops) as f64
}

fn ns_control(threads: usize, ops: u64) -> f64 {
    let secs = pool::global().span(
        threads,
        Arc::new(move |t| {
            workload::control(t, ops);
        }),
    );
    secs * 1e9 / (threads as u64 * ops) as f64
}

/// `snap()` on `S` with `nodes` nodes while `writers` threads that have written once
/// stay registered (idle), in ns per snap.
fn ns_snap<S: Store>(nodes: usize, writers: usize, snaps: u64) -> f64 {
    let store = S::new(nodes);
    let ready = Barrier::new(writers + 1);
    let done = AtomicBool::new(false);
    std::thread::scope(|sc| {
        for t in 0..writers {
            let (store, ready, done) = (&store, &ready, &done);
            sc.spawn(move || {
                store.set_state(t, 1);
                ready.wait();
                while !done.load(Ordering::Acquire) {
                    std::thread::park_timeout(std::time::Duration::from_millis(5));
                }
            });
        }
        ready.wait();
        let ns = ns_per_op(snaps, || {
            for _ in 0..snaps {
                black_box(store.snap());
            }
        });
        done.store(true, Ordering::Release);
        ns
    })
}

fn ns_fetch_add(n: u64) -> f64 {
    let c = AtomicU64::new(0);
    ns_per_op(n, || {
        for _ in 0..n {
            black_box(c.fetch_add(1, Ordering::Relaxed));
        }
    })
}

/// Random `(node, snapshot)` reads: ns per read.
fn ns_fetch(reads: u64, versions: u64, nodes: usize, f: impl Fn(usize, u64) -> u64) -> f64 {
    let mut rng = XorShift::new(99);
    ns_per_op(reads, || {
        for _ in 0..reads {
            let s = rng.below(versions);
            let i = rng.below(nodes as u64) as usize;
            black_box(f(i, s));
        }
    })
}

struct Goal {
    name: String,
    target: String,
    ours: Vec<f64>,
    base: Vec<f64>,
    /// Lower is better when true (times); higher when false (throughputs, scalings).
    lower_better: bool,
    limit: f64,
}

impl Goal {
    fn new(name: &str, target: &str, lower_better: bool, limit: f64) -> Self {
        Goal {
            name: name.into(),
            target: target.into(),
            ours: Vec::new(),
            base: Vec::new(),
            lower_better,
            limit,
        }
    }
    /// The median over rounds of each round's ratio: both sides of a ratio ran within
    /// the same round, so slow drifts in the machine's load cancel.
    fn ratio(&self) -> f64 {
        let r: Vec<f64> = self
            .ours
            .iter()
            .zip(&self.base)
            .map(|(o, b)| o / b)
            .collect();
        median(&r)
    }
    fn met(&self) -> bool {
        if self.lower_better {
            self.ratio() <= self.limit
        } else {
            self.ratio() >= self.limit
        }
    }
}

fn main() {
    snapstate_benches::stats::steady_heap();
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 21 };
    let set_ops: u64 = if quick { 1 << 18 } else { 1 << 20 };
    let snaps: u64 = 1 << 18;
    let reads: u64 = 1 << 17;

    // 1024 nodes x 1000 versions: about 1e6 versions, as the classic solution and ours.
    let versions = 1000u64;
    let ours_hist = SnapState::new(NODES);
    let mut classic = Classic::new(NODES);
    for v in 0..versions {
        for i in 0..NODES {
            ours_hist.set_state(i, v + 1);
            classic.set(i, v + 1);
        }
        ours_hist.snap();
        classic.snap();
    }
    let mut g_set1 = Goal::new(
        "set_state, 1 thread, 1024 nodes, snap every 100 sets: time vs pl-mutex classic",
        "<= 0.5",
        true,
        0.5,
    );
    let mut g_set2 = Goal::new(
        "set_state, 2 threads, distinct nodes (snap every 100): throughput vs pl-mutex classic",
        ">= 4",
        false,
        4.0,
    );
    let mut g_scale = Goal::new(
        "set_state scaling 1->2 threads: snapstate's scaling / control loop's scaling",
        ">= 1",
        false,
        1.0,
    );
    let mut g_snap: Vec<Goal> = Vec::new();
    for nodes in [100usize, 1_000_000] {
        for writers in 0..=4 {
            g_snap.push(Goal::new(
                &format!("snap(), {nodes} nodes, {writers} writer threads registered: time vs bare fetch_add"),
                "<= 3",
                true,
                3.0,
            ));
        }
    }
    let mut g_fetch = Goal::new(
        "fetch_state, random (node, snapshot), 1024 nodes x 1000 versions: time vs classic binary search, no lock",
        "<= 0.8",
        true,
        0.8,
    );
    let mut g_fetch_w = Goal::new(
        "fetch_state as above while another thread writes the array: time vs classic, no lock, alone",
        "<= 1.2",
        true,
        1.2,
    );
    let mut g_fetch_deep = Goal::new(
        "fetch_state, random snapshot, 1 node x 1e6 versions: time vs classic binary search, no lock (not a goal; for context)",
        "-",
        true,
        f64::INFINITY,
    );
    let (mut scale_ours, mut scale_ctl) = (Vec::new(), Vec::new());

    let t_start = Instant::now();
    for round in 0..rounds {
        g_set1
            .ours
            .push(ns_workload::<SnapState>(Workload::SetDistinct, 1, set_ops));
        g_set1
            .base
            .push(ns_workload::<PlMutex>(Workload::SetDistinct, 1, set_ops));
        let ours2 = ns_workload::<SnapState>(Workload::SetDistinct, 2, set_ops);
        let base2 = ns_workload::<PlMutex>(Workload::SetDistinct, 2, set_ops);
        // Throughputs: ops/ns.
        g_set2.ours.push(1.0 / ours2);
        g_set2.base.push(1.0 / base2);
        let ours1 = *g_set1.ours.last().expect("pushed");
        scale_ours.push(ours1 / ours2);
        let c1 = ns_control(1, set_ops * 8);
        let c2 = ns_control(2, set_ops * 8);
        scale_ctl.push(c1 / c2);
        let mut k = 0;
        for nodes in [100usize, 1_000_000] {
            for writers in 0..=4 {
                g_snap[k]
                    .ours
                    .push(ns_snap::<SnapState>(nodes, writers, snaps));
                g_snap[k].base.push(ns_fetch_add(snaps));
                k += 1;
            }
        }
        g_fetch.ours.push(ns_fetch(reads, versions, NODES, |i, s| {
            ours_hist.fetch_state(i, s)
        }));
        g_fetch
            .base
            .push(ns_fetch(reads, versions, NODES, |i, s| classic.fetch(i, s)));
        // With a writer: it sets random nodes of the same array for as long as the reads
        // take, with a snap every 65536 sets (so most sets overwrite in place and the
        // history grows by about 2 MiB per round, not by hundreds).
        let stop = AtomicBool::new(false);
        let with_writer = std::thread::scope(|sc| {
            let (hist, stop) = (&ours_hist, &stop);
            let w = sc.spawn(move || {
                let mut rng = XorShift::new(5);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1024 {
                        hist.set_state(rng.below(NODES as u64) as usize, versions + n);
                        n += 1;
                    }
                    if n.is_multiple_of(65536) {
                        hist.snap();
                    }
                }
                n
            });
            // Let the writer get going before timing.
            std::thread::sleep(std::time::Duration::from_millis(2));
            let ns = ns_fetch(reads, versions, NODES, |i, s| ours_hist.fetch_state(i, s));
            stop.store(true, Ordering::Relaxed);
            let writes = w.join().expect("writer panicked");
            assert!(writes > 0, "the writer ran");
            ns
        });
        g_fetch_w.ours.push(with_writer);
        g_fetch_w
            .base
            .push(ns_fetch(reads, versions, NODES, |i, s| classic.fetch(i, s)));
        eprintln!(
            "goals: round {}/{rounds} at {:.1} s",
            round + 1,
            t_start.elapsed().as_secs_f64()
        );
    }
    // The deep history is built only now, so its 32 MiB do not share the cache with
    // the rounds above.
    drop((ours_hist, classic));
    // One node with 1e6 versions.
    let deep = 1_000_000u64;
    let ours_deep = SnapState::new(1);
    let mut classic_deep = Classic::new(1);
    for v in 0..deep {
        ours_deep.set_state(0, v + 1);
        classic_deep.set(0, v + 1);
        ours_deep.snap();
        classic_deep.snap();
    }

    for _ in 0..rounds {
        g_fetch_deep
            .ours
            .push(ns_fetch(reads, deep, 1, |i, s| ours_deep.fetch_state(i, s)));
        g_fetch_deep
            .base
            .push(ns_fetch(reads, deep, 1, |i, s| classic_deep.fetch(i, s)));
    }
    g_scale.ours = scale_ours;
    g_scale.base = scale_ctl;

    println!(
        "Command: `cargo run -p snapstate-benches --release --bin goals{}`  ",
        if quick { " -- --quick" } else { "" }
    );
    println!(
        "{rounds} interleaved rounds; the snapstate and baseline columns are medians, the ratio is the median of the per-round ratios.\n"
    );
    println!("| goal | snapstate | baseline | ratio | target | met |");
    println!("|---|---|---|---|---|---|");
    let mut all: Vec<&Goal> = vec![&g_set1, &g_set2, &g_scale];
    all.extend(g_snap.iter());
    all.push(&g_fetch);
    all.push(&g_fetch_w);
    all.push(&g_fetch_deep);
    for g in all {
        let unit = if g.lower_better { " ns" } else { "" };
        let (o, b) = (median(&g.ours), median(&g.base));
        let fmt = |v: f64| {
            if g.lower_better {
                format!("{v:.2}{unit}")
            } else if g.name.contains("throughput") {
                // Operations per nanosecond, shown as millions per second.
                format!("{:.1} Mops/s", v * 1e3)
            } else {
                format!("{v:.2}")
            }
        };
        let met = if g.target == "-" {
            "-"
        } else if g.met() {
            "yes"
        } else {
            "no"
        };
        println!(
            "| {} | {} | {} | {:.2} | {} | {met} |",
            g.name,
            fmt(o),
            fmt(b),
            g.ratio(),
            g.target
        );
    }
}
