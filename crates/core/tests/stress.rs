//! Real threads: writers raise per-node progress while other threads snap and re-read
//! sealed snapshots. Asserts correctness only (never time).
//!
//! The quick versions run in `cargo test`; the long ones are `#[ignore]`d:
//! `cargo test -p snapstate --release --test stress -- --ignored`.
#![cfg(not(snapstate_loom))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;

use snapstate::{SnapshotArray, SnapshotId};

struct Plan {
    writers: usize,
    nodes_per_writer: usize,
    rounds: u64,
    readers: usize,
}

fn scaled(rounds: u64) -> u64 {
    if cfg!(miri) {
        rounds.min(20)
    } else {
        rounds
    }
}

/// Each writer owns `nodes_per_writer` consecutive nodes and, round after round, sets
/// them in order to the round number. So at any consistent cut a writer's first node is
/// at most one round ahead of its last, and no node is ahead of the one written before it.
fn progress_run(plan: Plan) {
    let n = plan.writers * plan.nodes_per_writer;
    let array: SnapshotArray = SnapshotArray::new(n);
    let done = AtomicBool::new(false);
    let taken: Mutex<Vec<(SnapshotId, Vec<u64>)>> = Mutex::new(Vec::new());
    // Writers start together with the snapper, so the two overlap.
    let start = Barrier::new(plan.writers + 1);

    let read_all =
        |s: SnapshotId| -> Vec<u64> { (0..n).map(|i| array.fetch_state(i, s).unwrap()).collect() };
    let check_cut = |s: SnapshotId, values: &[u64]| {
        for w in 0..plan.writers {
            let own = &values[w * plan.nodes_per_writer..(w + 1) * plan.nodes_per_writer];
            for pair in own.windows(2) {
                assert!(
                    pair[0] >= pair[1],
                    "snapshot {s}: a later-written node is ahead: {own:?}"
                );
            }
            assert!(
                own[0] <= own[own.len() - 1] + 1,
                "snapshot {s}: not a consistent cut: {own:?}"
            );
        }
    };

    thread::scope(|scope| {
        let writers: Vec<_> = (0..plan.writers)
            .map(|w| {
                let array = &array;
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    for round in 1..=plan.rounds {
                        for j in 0..plan.nodes_per_writer {
                            array
                                .set_state(w * plan.nodes_per_writer + j, round)
                                .unwrap();
                        }
                    }
                })
            })
            .collect();

        // The snapper: takes snapshots, reads them whole at once, checks each is a
        // consistent cut and that progress never goes down from one to the next.
        scope.spawn(|| {
            let mut last: Option<Vec<u64>> = None;
            start.wait();
            loop {
                let finished = done.load(Ordering::Relaxed);
                let s = array.snap();
                let values = read_all(s);
                check_cut(s, &values);
                if let Some(prev) = &last {
                    for (i, (a, b)) in prev.iter().zip(&values).enumerate() {
                        assert!(a <= b, "node {i} went down from {a} to {b} at snapshot {s}");
                    }
                }
                taken.lock().unwrap().push((s, values.clone()));
                last = Some(values);
                if finished {
                    break;
                }
            }
        });

        // Re-readers: a sealed snapshot must read the same forever.
        for r in 0..plan.readers {
            let (taken, done, read_all) = (&taken, &done, &read_all);
            scope.spawn(move || {
                let mut k = r;
                while !done.load(Ordering::Relaxed) {
                    let pick = {
                        let taken = taken.lock().unwrap();
                        if taken.is_empty() {
                            None
                        } else {
                            k = k.wrapping_mul(31).wrapping_add(7);
                            Some(taken[k % taken.len()].clone())
                        }
                    };
                    if let Some((s, values)) = pick {
                        assert_eq!(read_all(s), values, "snapshot {s} changed");
                    }
                    thread::yield_now();
                }
            });
        }

        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });

    let s = array.snap();
    assert_eq!(read_all(s), vec![plan.rounds; n]);
    let taken = taken.into_inner().unwrap();
    assert!(!taken.is_empty());
    eprintln!("progress_run: {} snapshots checked", taken.len());
    for (s, values) in taken {
        assert_eq!(read_all(s), values, "snapshot {s} changed after the run");
    }
}

/// Several writers on the same node, each writing its own increasing sequence.
fn same_node_run(writers: u64, rounds: u64) {
    let array: SnapshotArray = SnapshotArray::new(1);
    let done = AtomicBool::new(false);
    let mut seen: Vec<(SnapshotId, u64)> = Vec::new();
    const STRIDE: u64 = 1 << 32;
    thread::scope(|scope| {
        let hs: Vec<_> = (0..writers)
            .map(|w| {
                let array = &array;
                scope.spawn(move || {
                    for k in 1..=rounds {
                        array.set_state(0, w * STRIDE + k).unwrap();
                    }
                })
            })
            .collect();
        let snapper = scope.spawn(|| {
            let mut seen = Vec::new();
            while !done.load(Ordering::Relaxed) {
                let s = array.snap();
                let v = array.fetch_state(0, s).unwrap();
                assert!(
                    v == 0 || (v % STRIDE >= 1 && v % STRIDE <= rounds && v / STRIDE < writers)
                );
                let cur = array.current_state(0).unwrap();
                assert!(cur == 0 || cur % STRIDE >= 1);
                seen.push((s, v));
            }
            seen
        });
        for h in hs {
            h.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        seen = snapper.join().unwrap();
    });
    for (s, v) in seen {
        assert_eq!(array.fetch_state(0, s).unwrap(), v, "snapshot {s} changed");
    }
    let last = array.current_state(0).unwrap();
    assert_eq!(
        last % STRIDE,
        rounds,
        "the final state is some writer's last write"
    );
}

/// Racing writers of boxed values: every replaced value is freed once, none early.
fn boxed_run(rounds: usize) {
    let array: SnapshotArray<String> = SnapshotArray::new(2);
    thread::scope(|scope| {
        for w in 0..2 {
            let array = &array;
            scope.spawn(move || {
                for k in 0..rounds {
                    array.set_state(k % 2, format!("w{w}-{k}")).unwrap();
                    if k % 16 == 0 {
                        let s = array.snap();
                        let a = array.fetch_state(0, s).unwrap();
                        assert!(a.is_empty() || a.starts_with('w'));
                        assert_eq!(array.fetch_state(0, s).unwrap(), a);
                    }
                    let cur = array.current_state((k + 1) % 2).unwrap();
                    assert!(cur.is_empty() || cur.starts_with('w'));
                }
            });
        }
    });
}

#[test]
fn progress_quick() {
    progress_run(Plan {
        writers: 2,
        nodes_per_writer: 4,
        rounds: scaled(3000),
        readers: 1,
    });
}

#[test]
fn same_node_writers_quick() {
    same_node_run(3, scaled(3000));
}

#[test]
fn boxed_values_quick() {
    boxed_run(scaled(2000) as usize);
}

#[test]
#[ignore = "long: run with --ignored in release"]
fn progress_long() {
    progress_run(Plan {
        writers: 4,
        nodes_per_writer: 16,
        rounds: 2_000_000,
        readers: 2,
    });
}

#[test]
#[ignore = "long: run with --ignored in release"]
fn same_node_writers_long() {
    same_node_run(4, 20_000_000);
}

#[test]
#[ignore = "long: run with --ignored in release"]
fn boxed_values_long() {
    boxed_run(5_000_000);
}
