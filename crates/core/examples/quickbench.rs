//! A quick single-thread comparison with the classic solution behind a
//! `parking_lot::Mutex`, interleaved round by round in one run (medians reported).
//!
//! `cargo run -p snapstate --release --example quickbench`
//!
//! The full suite (criterion, all baselines, scaling) is the `snapstate-benches` crate.
//!
//! Like that suite, it first tells glibc to keep freed memory (no trimming, no `mmap`
//! per large block). Without that, the baseline's `Vec` growth pays the kernel for
//! fresh pages on every round and runs about twice as slow, which made an earlier
//! version of this check report `set_state` at 0.54x the mutex when, on a warm heap,
//! it is above 1x (see `benches/ANALYSIS.md`).

use std::hint::black_box;
use std::time::Instant;

use parking_lot::Mutex;
use snapstate::{SnapshotArray, SnapshotId};

/// The classic solution: per node `(snap_id, value)` with in-place overwrite.
struct Classic {
    nodes: Vec<Vec<(u32, u64)>>,
    snaps: u32,
}

impl Classic {
    fn new(n: usize) -> Self {
        Classic {
            nodes: vec![vec![(0, 0)]; n],
            snaps: 0,
        }
    }
    fn set(&mut self, i: usize, v: u64) {
        let snaps = self.snaps;
        let log = &mut self.nodes[i];
        let last = log.last_mut().unwrap();
        if last.0 == snaps {
            last.1 = v;
        } else {
            log.push((snaps, v));
        }
    }
    fn snap(&mut self) -> u32 {
        self.snaps += 1;
        self.snaps - 1
    }
    fn fetch(&self, i: usize, s: u32) -> u64 {
        let log = &self.nodes[i];
        log[log.partition_point(|&(e, _)| e <= s) - 1].1
    }
}

const NODES: usize = 1024;
const SETS: u64 = 1 << 20;

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn ns_per(ops: u64, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / ops as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Keeps freed memory in the process, as `snapstate_benches::stats::steady_heap` does.
fn steady_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; it is called before any
    // measurement and takes plain integers. On failure the defaults stay.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

fn main() {
    steady_heap();
    let rounds = 15;
    let (mut ours_set, mut mutex_set) = (Vec::new(), Vec::new());
    let (mut ours_snap, mut fa_snap, mut mutex_snap) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ours_fetch, mut mutex_fetch) = (Vec::new(), Vec::new());

    // Histories for the fetch comparison: 1024 nodes x 1000 versions.
    let versions = 1000u64;
    let ours_hist: SnapshotArray = SnapshotArray::new(NODES);
    let mut classic_hist = Classic::new(NODES);
    for v in 1..=versions {
        for i in 0..NODES {
            ours_hist.set_state(i, v).unwrap();
            classic_hist.set(i, v);
        }
        ours_hist.snap();
        classic_hist.snap();
    }
    let classic_hist = Mutex::new(classic_hist);

    for _ in 0..rounds {
        // set_state: round-robin over 1024 nodes, a snap every 100 sets.
        let ours: SnapshotArray = SnapshotArray::new(NODES);
        ours_set.push(ns_per(SETS, || {
            for k in 0..SETS {
                ours.set_state((k as usize) & (NODES - 1), k).unwrap();
                if k % 100 == 99 {
                    ours.snap();
                }
            }
        }));
        let classic = Mutex::new(Classic::new(NODES));
        mutex_set.push(ns_per(SETS, || {
            for k in 0..SETS {
                classic.lock().set((k as usize) & (NODES - 1), k);
                if k % 100 == 99 {
                    classic.lock().snap();
                }
            }
        }));

        // snap alone, with this thread registered as a writer.
        let n = 1 << 20;
        ours_snap.push(ns_per(n, || {
            for _ in 0..n {
                black_box(ours.snap());
            }
        }));
        let counter = std::sync::atomic::AtomicU64::new(0);
        fa_snap.push(ns_per(n, || {
            for _ in 0..n {
                black_box(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
            }
        }));
        mutex_snap.push(ns_per(n, || {
            for _ in 0..n {
                black_box(classic.lock().snap());
            }
        }));

        // fetch_state at random (node, snapshot).
        let reads = 1 << 18;
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        ours_fetch.push(ns_per(reads, || {
            for _ in 0..reads {
                let r = xorshift(&mut x);
                let s = SnapshotId::from(r % versions);
                black_box(
                    ours_hist
                        .fetch_state((r >> 32) as usize % NODES, s)
                        .unwrap(),
                );
            }
        }));
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        mutex_fetch.push(ns_per(reads, || {
            for _ in 0..reads {
                let r = xorshift(&mut x);
                let s = (r % versions) as u32;
                black_box(classic_hist.lock().fetch((r >> 32) as usize % NODES, s));
            }
        }));
    }

    let row = |name: &str, ours: f64, base: f64, base_name: &str| {
        println!(
            "| {name} | {ours:.2} | {base:.2} ({base_name}) | {:.2}x |",
            ours / base
        );
    };
    println!("| operation (1 thread, medians of {rounds} interleaved rounds) | snapstate ns/op | baseline ns/op | ratio |");
    println!("|---|---|---|---|");
    row(
        "set_state, 1024 nodes, snap every 100",
        median(ours_set),
        median(mutex_set),
        "parking_lot::Mutex<classic>",
    );
    row(
        "snap",
        median(ours_snap.clone()),
        median(mutex_snap),
        "parking_lot::Mutex<classic>",
    );
    row(
        "snap",
        median(ours_snap),
        median(fa_snap),
        "bare AtomicU64::fetch_add",
    );
    row(
        "fetch_state, random, 1000 versions/node",
        median(ours_fetch),
        median(mutex_fetch),
        "parking_lot::Mutex<classic>",
    );
}
