//! A driver for counting single-thread instructions per operation with callgrind.
//!
//! `opcount IMPL OP N` builds a store, then runs `N` operations `OP` on it inside the
//! function `measured`. Run it under `valgrind --tool=callgrind
//! --toggle-collect='*measured*'` and divide the instructions by `N`; the script
//! `benches/callgrind.sh` does that for every (impl, op) the README reports.
//!
//! IMPL: `snapstate`, `pl-mutex`, `std-mutex`, `pl-rwlock`, `node-locks`, `skiplist`,
//! `cow-arcswap`, `classic-nolock`.
//! OP:
//! - `set-append`: 1024 nodes round-robin with a `snap()` after every 1024 sets, so
//!   every set adds a version (the snap's cost is spread over 1024 sets).
//! - `set-overwrite`: 1024 nodes round-robin, no snaps: every set overwrites in place.
//! - `snap`: `snap()` with this thread registered as a writer.
//! - `fetch`: random (node, snapshot) over 1024 nodes x 1000 versions.
//! - `loop`: the fetch loop's random-number overhead alone, to subtract.
//! - `fetch-short`, `loop-short`: the same over 1024 nodes x 64 versions.

use std::hint::black_box;

use snapstate_benches::rng::XorShift;
use snapstate_benches::workload::NODES;
use snapstate_benches::{
    Classic, CowArcSwap, NodeLocks, PlMutex, PlRwLock, SkipList, SnapState, StdMutex, Store,
};

/// Versions per node for `fetch` / `loop`; the `-short` forms use [`SHORT`].
const VERSIONS: u64 = 1000;
/// Versions per node for `fetch-short` / `loop-short`: the harness's prefill depth
/// (`workload::PREFILL_SNAPS`), where the read-heavy mix reads.
const SHORT: u64 = 64;

fn versions(op: &str) -> u64 {
    if op.ends_with("-short") {
        SHORT
    } else {
        VERSIONS
    }
}

/// The operations, over any store-like pair of closures.
/// The timed part, alone in a function of its own so that callgrind can count only it
/// (`--toggle-collect='*measured*'`). Generic over the closures so that they inline.
#[inline(never)]
fn measured(
    op: &str,
    n: u64,
    mut set: impl FnMut(usize, u64),
    mut snap: impl FnMut() -> u64,
    fetch: impl Fn(usize, u64) -> u64,
) {
    let nodes = NODES as u64;
    match op {
        "set-append" => {
            for k in 0..n {
                set((k % nodes) as usize, k);
                if k % nodes == nodes - 1 {
                    snap();
                }
            }
        }
        "set-overwrite" => {
            for k in 0..n {
                set((k % nodes) as usize, k);
            }
        }
        "snap" => {
            for _ in 0..n {
                black_box(snap());
            }
        }
        _ => {
            let mut rng = XorShift::new(3);
            let mut sum = 0u64;
            let (versions, fetching) = (versions(op), op.starts_with("fetch"));
            for _ in 0..n {
                let s = rng.below(versions);
                let i = rng.below(nodes) as usize;
                if fetching {
                    sum = sum.wrapping_add(fetch(i, s));
                } else {
                    sum = sum.wrapping_add(black_box(i as u64 ^ s));
                }
            }
            black_box(sum);
        }
    }
}

/// Sets the store up for `op` (uncounted), then runs [`measured`].
fn ops(
    op: &str,
    n: u64,
    mut set: impl FnMut(usize, u64),
    mut snap: impl FnMut() -> u64,
    fetch: impl Fn(usize, u64) -> u64,
) -> Result<(), String> {
    let nodes = NODES as u64;
    match op {
        // Warm up past the first segments / first reallocations.
        "set-append" => {
            for k in 0..(64 * nodes) {
                set((k % nodes) as usize, k);
                if k % nodes == nodes - 1 {
                    snap();
                }
            }
        }
        "set-overwrite" => {
            snap();
            for k in 0..nodes {
                set(k as usize, k);
            }
        }
        "snap" => set(0, 1),
        "fetch" | "loop" | "fetch-short" | "loop-short" => {
            for v in 0..versions(op) {
                for i in 0..NODES {
                    set(i, v + 1);
                }
                snap();
            }
        }
        other => return Err(format!("unknown op {other:?}")),
    }
    measured(op, n, &mut set, &mut snap, &fetch);
    Ok(())
}

fn on<S: Store>(op: &str, n: u64) -> Result<(), String> {
    let s = S::new(NODES);
    let r = ops(
        op,
        n,
        |i, v| s.set_state(i, v),
        || s.snap(),
        |i, v| s.fetch_state(i, v),
    );
    // Leak: freeing the history is not part of any operation (and would be counted).
    std::mem::forget(s);
    r
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(imp), Some(op), Some(n)) = (
        args.first(),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: opcount IMPL OP N");
        std::process::exit(2);
    };
    let r = match imp.as_str() {
        "snapstate" => on::<SnapState>(op, n),
        "pl-mutex" => on::<PlMutex>(op, n),
        "std-mutex" => on::<StdMutex>(op, n),
        "pl-rwlock" => on::<PlRwLock>(op, n),
        "node-locks" => on::<NodeLocks>(op, n),
        "skiplist" => on::<SkipList>(op, n),
        "cow-arcswap" => on::<CowArcSwap>(op, n),
        "classic-nolock" => {
            let c = std::cell::RefCell::new(Classic::new(NODES));
            ops(
                op,
                n,
                |i, v| c.borrow_mut().set(i, v),
                || c.borrow_mut().snap(),
                |i, v| c.borrow().fetch(i, v),
            )
        }
        other => Err(format!("unknown implementation {other:?}")),
    };
    if let Err(e) = r {
        eprintln!("opcount: {e}");
        std::process::exit(2);
    }
}
