//! Loom models of the features built on the core: compaction racing writers, readers and
//! pins, and racing `advance` calls.
//!
//! Like `models.rs`, each model names its preemption bound, records every operation's call
//! and return with causal stamps, and checks the whole history against the sequential
//! specification (`snapstate_loom_tests::spec`, which knows the floor, the live pins and
//! `advance`), on top of its own asserts. Readers that race a writer or a compaction
//! read in a loop until they see its effect (see "Readers retry" in `models.rs`).
//!
//! | model | what races |
//! |---|---|
//! | `compaction_racing_a_writer_and_a_reader` | `compact` (floor raise, segment rewrite, deferred frees) against an append and reads of the retained and the compacted snapshot |
//! | `pin_taken_while_compaction_runs` | `pin` of an old snapshot against `compact` past it; the pin either holds the floor or is refused |
//! | `reads_through_a_pin_during_compaction` | a pinned snapshot read while a compaction is stopped by the pin and a writer appends |
//! | `racing_advances_across_a_snap` | two `advance` reports of one node and a `snap()` |
#![cfg(snapstate_loom)]

use loom::sync::Arc;
use loom::thread;
use snapstate::SnapshotArray;
use snapstate_loom_tests::checker::assert_linearizable;
use snapstate_loom_tests::harness::model;
use snapstate_loom_tests::history::ThreadLog;

/// Runs `attempt` until it returns true, yielding to the other threads in between.
fn until(mut attempt: impl FnMut() -> bool) {
    while !attempt() {
        thread::yield_now();
    }
}

/// Two versions of node 0 (1 in snapshot `old`, 2 in snapshot `kept`), written by `log`.
fn two_snapshots(a: &SnapshotArray, log: &mut ThreadLog) -> (u64, u64) {
    log.set(a, 0, 1);
    let old = log.snap(a).get();
    log.set(a, 0, 2);
    let kept = log.snap(a).get();
    (old, kept)
}

/// Spawns thread 1, which sets node 0 to 3, and thread 2, which compacts before
/// `before` and expects the floor `floor`, both recorded in logs forked from `main`;
/// join them into `main`.
fn write_and_compact(
    a: &Arc<SnapshotArray>,
    main: &mut ThreadLog,
    before: u64,
    floor: u64,
) -> [thread::JoinHandle<ThreadLog>; 2] {
    let mut wlog = main.fork(1);
    let mut clog = main.fork(2);
    let writer = {
        let a = a.clone();
        thread::spawn(move || {
            wlog.set(&a, 0, 3);
            wlog
        })
    };
    let compactor = {
        let a = a.clone();
        thread::spawn(move || {
            assert_eq!(
                clog.compact(&a, before),
                Some(floor),
                "floor after compact({before})"
            );
            clog
        })
    };
    [writer, compactor]
}

/// A writer appends, a compactor drops everything before the newest snapshot (cutting
/// and rewriting the node's segment), and the main thread reads the retained snapshot
/// and the old one until the old one is gone. The retained snapshot reads 2 throughout,
/// nothing freed is ever read (loom tracks every segment allocation), and afterwards the
/// new write is intact.
#[test]
fn compaction_racing_a_writer_and_a_reader() {
    model("compaction_racing_a_writer_and_a_reader", 2, || {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
        let mut main = ThreadLog::causal();
        let (old, kept) = two_snapshots(&a, &mut main);
        let [writer, compactor] = write_and_compact(&a, &mut main, kept, kept);
        until(|| {
            assert_eq!(main.fetch(&a, 0, kept), Some(2), "retained snapshot");
            match main.fetch(&a, 0, old) {
                Some(v) => {
                    assert_eq!(v, 1, "snapshot {old} before compaction");
                    false
                }
                None => true,
            }
        });
        main.join(writer.join().unwrap());
        main.join(compactor.join().unwrap());
        assert_eq!(main.fetch(&a, 0, kept), Some(2));
        assert_eq!(main.current(&a, 0), 3);
        let next = main.snap(&a).get();
        assert_eq!(main.fetch(&a, 0, next), Some(3));
        assert_linearizable(&main.into_history(1));
    });
}

/// A pin of the old snapshot is taken while a compaction past it runs: either the pin
/// wins (the compaction stops at it, and the pinned snapshot reads its value until the
/// pin is dropped) or it loses cleanly with `Compacted`. The history checker holds the
/// returned floor to the pin's order.
#[test]
fn pin_taken_while_compaction_runs() {
    model("pin_taken_while_compaction_runs", 2, || {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
        let mut main = ThreadLog::causal();
        let (old, newest) = two_snapshots(&a, &mut main);
        let mut plog = main.fork(1);
        let pinner = {
            let a = a.clone();
            thread::spawn(move || {
                let pinned = match plog.pin(&a, old) {
                    Some(pin) => {
                        assert_eq!(plog.fetch_pinned(&pin, 0), 1);
                        plog.unpin(pin);
                        true
                    }
                    None => false,
                };
                (plog, pinned)
            })
        };
        let floor = main.compact(&a, newest).expect("newest was taken");
        let (plog, pinned) = pinner.join().unwrap();
        main.join(plog);
        assert!(floor == newest || (pinned && floor == old), "floor {floor}");
        assert_eq!(main.fetch(&a, 0, newest), Some(2));
        assert_linearizable(&main.into_history(1));
    });
}

/// A pinned snapshot is read through its pin while a compaction that the pin stops runs
/// and a writer appends. The pinned snapshot and the one after it stay readable; once
/// the pin is dropped a second compaction passes it.
#[test]
fn reads_through_a_pin_during_compaction() {
    model("reads_through_a_pin_during_compaction", 2, || {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
        let mut main = ThreadLog::causal();
        let (old, newest) = two_snapshots(&a, &mut main);
        let pin = main.pin(&a, old).expect("old is readable");
        // The compaction stops at the pin.
        let [writer, compactor] = write_and_compact(&a, &mut main, newest, old);
        until(|| {
            assert_eq!(main.fetch_pinned(&pin, 0), 1, "pinned snapshot");
            main.current(&a, 0) == 3
        });
        main.join(writer.join().unwrap());
        main.join(compactor.join().unwrap());
        assert_eq!(main.fetch(&a, 0, newest), Some(2));
        main.unpin(pin);
        assert_eq!(main.compact(&a, newest), Some(newest));
        assert_eq!(main.fetch(&a, 0, old), None, "compacted once unpinned");
        assert_eq!(main.fetch(&a, 0, newest), Some(2));
        assert_linearizable(&main.into_history(1));
    });
}

/// Two reporters advance one node across a snapshot boundary: the snapshot shows one of
/// the reported values (or none) and never changes afterwards, the node ends at the
/// highest report whatever the interleaving, and each report's "raised" answer fits one
/// order of the two (the history check).
#[test]
fn racing_advances_across_a_snap() {
    model("racing_advances_across_a_snap", 2, || {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
        let mut main = ThreadLog::causal();
        let reporters: Vec<_> = [5u64, 7]
            .into_iter()
            .enumerate()
            .map(|(k, v)| {
                let mut log = main.fork(k + 1);
                let a = a.clone();
                thread::spawn(move || {
                    log.advance(&a, 0, v);
                    log
                })
            })
            .collect();
        let s = main.snap(&a).get();
        let seen = main.fetch(&a, 0, s).expect("snap() returned s");
        assert!([0, 5, 7].contains(&seen), "snapshot {s} shows {seen}");
        until(|| {
            assert_eq!(main.fetch(&a, 0, s), Some(seen), "snapshot {s} changed");
            main.current(&a, 0) == 7
        });
        for r in reporters {
            main.join(r.join().unwrap());
        }
        assert_eq!(main.fetch(&a, 0, s), Some(seen), "snapshot {s} changed");
        assert_eq!(main.current(&a, 0), 7);
        let t = main.snap(&a).get();
        assert_eq!(main.fetch(&a, 0, t), Some(7));
        assert_linearizable(&main.into_history(1));
    });
}
