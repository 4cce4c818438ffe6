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
    ];
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
