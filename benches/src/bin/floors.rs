//! The floors under `set_state`: what the atomic operations of each write protocol
//! cost alone, one thread, over 1024 per-node words (one cache line each), interleaved
//! rounds, medians, and each as a multiple of the `parking_lot::Mutex` row.
//!
//! ```sh
//! cargo run -p snapstate-benches --release --bin floors
//! ```
//!
//! - `announce + fence + reload + clear`: the announcement protocol alone (what every
//!   `set_state` pays before touching the node).
//! - `... + per-node CAS`: plus one compare-and-swap on the node's line (the claim of a
//!   new version slot): the current core's append path, without its other work.
//! - `... + per-node store`: plus a plain store on the node's line instead (an
//!   overwrite in place, or an append that needs no claim).
//! - `xchg announce + reload + clear`: the announcement done by a `swap` instead of a
//!   store and a fence (LLVM already emits the fence as `lock or`, so this is no
//!   cheaper).
//! - `pl-mutex lock/unlock + store`: the classic baseline's locking alone.
//! - `lean append model`: a model of the data path ANALYSIS.md proposes, with today's
//!   protocol: per node a length in a dense table (16 bytes per node) and a log of
//!   16-byte (tag, word) pairs; a set announces, fences, re-reads the clock, claims the
//!   pair at `len` with a CAS, stores the word, publishes the tag, bumps `len`, clears;
//!   a `fetch_add` on the clock after every 99 sets. Preallocated logs, no segments.
//! - `classic under pl-mutex`: the goal's baseline on the same pattern (1024 nodes
//!   round-robin, `Vec` push, a snap after every 99 sets), started over whenever the
//!   model's logs wrap.

use std::hint::black_box;
use std::sync::atomic::{fence, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use snapstate_benches::stats::{median, ns_per_op};

fn main() {
    let n = 1u64 << 22;
    let slot = CachePadded::new(AtomicU64::new(u64::MAX));
    let clock = CachePadded::new(AtomicU64::new(7));
    let words: Vec<CachePadded<AtomicU64>> = (0..1024)
        .map(|_| CachePadded::new(AtomicU64::new(0)))
        .collect();
    let word = |k: u64| &words[(k & 1023) as usize];
    let m = parking_lot::Mutex::new(0u64);
    let names = [
        "announce + fence + reload + clear",
        "... + per-node CAS (the append path's two RMWs)",
        "... + per-node store (one RMW)",
        "xchg announce + reload + clear",
        "pl-mutex lock/unlock + store",
        "bare fetch_add",
        "lean append model, 1024 nodes, snap every 100",
        "classic under pl-mutex, 1024 nodes, snap every 100",
    ];
    // The lean model's state: per node a length (padded to 16 bytes) and a log of
    // `LOG` pairs, reused round after round (a node's length wraps to 0).
    const LOG: usize = 1024;
    let lens: Vec<[AtomicU64; 2]> = (0..1024)
        .map(|_| [AtomicU64::new(0), AtomicU64::new(0)])
        .collect();
    let logs: Vec<AtomicU64> = (0..1024 * LOG * 2).map(|_| AtomicU64::new(0)).collect();
    let classic = parking_lot::Mutex::new(snapstate_benches::Classic::new(1024));
    let mut t: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..21 {
        t[0].push(ns_per_op(n, || {
            for _ in 0..n {
                // Relaxed + SeqCst fence: the writer's half of the Dekker pair, as in the core.
                slot.store(7, Ordering::Relaxed);
                fence(Ordering::SeqCst);
                black_box(clock.load(Ordering::Relaxed));
                // Release: as the core's clear.
                slot.store(u64::MAX, Ordering::Release);
            }
        }));
        t[1].push(ns_per_op(n, || {
            for k in 0..n {
                slot.store(7, Ordering::Relaxed);
                fence(Ordering::SeqCst);
                black_box(clock.load(Ordering::Relaxed));
                // Acquire/AcqRel: as the core's claim.
                let cur = word(k).load(Ordering::Acquire);
                let _ = word(k).compare_exchange(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire);
                slot.store(u64::MAX, Ordering::Release);
            }
        }));
        t[2].push(ns_per_op(n, || {
            for k in 0..n {
                slot.store(7, Ordering::Relaxed);
                fence(Ordering::SeqCst);
                black_box(clock.load(Ordering::Relaxed));
                // Release: as the core's word store.
                word(k).store(k, Ordering::Release);
                slot.store(u64::MAX, Ordering::Release);
            }
        }));
        t[3].push(ns_per_op(n, || {
            for _ in 0..n {
                // SeqCst swap + SeqCst load: the C++20-valid fence-free writer half.
                slot.swap(7, Ordering::SeqCst);
                black_box(clock.load(Ordering::SeqCst));
                slot.store(u64::MAX, Ordering::Release);
            }
        }));
        t[4].push(ns_per_op(n, || {
            for k in 0..n {
                let mut g = m.lock();
                *g += 1;
                // Relaxed: under the lock.
                word(k).store(k, Ordering::Relaxed);
                drop(g);
            }
        }));
        t[6].push(ns_per_op(n, || {
            let mut e = clock.load(Ordering::Relaxed);
            for k in 0..n {
                let node = (k & 1023) as usize;
                if k % 100 == 99 {
                    // Relaxed: a model of `snap()`'s bump only.
                    e = clock.fetch_add(1, Ordering::Relaxed) + 1;
                    continue;
                }
                slot.store(e, Ordering::Relaxed);
                fence(Ordering::SeqCst);
                black_box(clock.load(Ordering::Relaxed));
                // Relaxed: the model's length; Acquire/AcqRel/Release as the core's
                // claim, word store and publish.
                let len = lens[node][0].load(Ordering::Relaxed) as usize;
                let pair = &logs[(node * LOG + len) * 2..(node * LOG + len) * 2 + 2];
                let _ =
                    pair[0].compare_exchange(0, (e << 2) | 2, Ordering::AcqRel, Ordering::Acquire);
                pair[1].store(k, Ordering::Release);
                pair[0].store((e << 2) | 3, Ordering::Release);
                lens[node][0].store(((len + 1) % LOG) as u64, Ordering::Relaxed);
                if len + 1 == LOG {
                    for w in &logs[node * LOG * 2..(node + 1) * LOG * 2] {
                        w.store(0, Ordering::Relaxed);
                    }
                }
                slot.store(u64::MAX, Ordering::Release);
            }
        }));
        t[7].push(ns_per_op(n, || {
            for k in 0..n {
                if k % (1024 * LOG as u64) == 0 {
                    // Start over when the nodes hold `LOG` versions, as the model's
                    // logs wrap (both pay for fresh memory at the same rate).
                    *classic.lock() = snapstate_benches::Classic::new(1024);
                }
                if k % 100 == 99 {
                    black_box(classic.lock().snap());
                } else {
                    classic.lock().set((k & 1023) as usize, k);
                }
            }
        }));
        *classic.lock() = snapstate_benches::Classic::new(1024);
        t[5].push(ns_per_op(n, || {
            for _ in 0..n {
                // Relaxed: a counter.
                black_box(clock.fetch_add(1, Ordering::Relaxed));
            }
        }));
    }
    let base = median(&t[4]);
    println!("Command: `cargo run -p snapstate-benches --release --bin floors`  ");
    println!("21 interleaved rounds, medians, 1 thread.\n");
    println!("| operations | ns/op | x pl-mutex |");
    println!("|---|---|---|");
    for (name, v) in names.iter().zip(&t) {
        println!("| {name} | {:.2} | {:.2} |", median(v), median(v) / base);
    }
}
