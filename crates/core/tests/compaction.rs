//! Compaction, pins, retention, stats, whole-snapshot reads and `advance`.
#![cfg(not(snapstate_loom))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use snapstate::{Error, SnapshotArray, SnapshotId};

fn id(n: u64) -> SnapshotId {
    SnapshotId::from(n)
}

#[test]
fn compact_makes_older_snapshots_unreadable_and_keeps_the_rest() {
    let a: SnapshotArray = SnapshotArray::new(3);
    let mut snaps = Vec::new();
    for round in 1..=10u64 {
        a.set_state((round % 3) as usize, round).unwrap();
        snaps.push((a.snap(), a.fetch_all(id(round - 1)).unwrap()));
    }
    assert_eq!(a.compact(id(6)).unwrap(), id(6));
    for (s, values) in &snaps {
        if s.get() < 6 {
            assert_eq!(
                a.fetch_state(0, *s),
                Err(Error::Compacted {
                    id: *s,
                    oldest: id(6)
                })
            );
            assert!(matches!(a.fetch_all(*s), Err(Error::Compacted { .. })));
        } else {
            assert_eq!(&a.fetch_all(*s).unwrap(), values, "snapshot {s} changed");
        }
    }
    assert_eq!(a.oldest_readable(), id(6));
    // Compacting to an older point is a no-op that reports the current floor.
    assert_eq!(a.compact(id(2)).unwrap(), id(6));
    assert_eq!(
        a.compact(id(10)),
        Err(Error::SnapshotNotTaken {
            id: id(10),
            taken: 10
        })
    );
}

#[test]
fn compaction_reclaims_versions_and_bytes() {
    let a: SnapshotArray = SnapshotArray::new(4);
    let rounds = if cfg!(miri) { 200 } else { 2000u64 };
    for round in 1..=rounds {
        for node in 0..4 {
            a.set_state(node, round).unwrap();
        }
        a.snap();
    }
    let before = a.stats();
    assert_eq!(before.versions, 4 * rounds);
    let newest = id(a.snapshots_taken() - 1);
    a.compact(newest).unwrap();
    let after = a.stats();
    assert!(
        after.versions <= 4 * 2,
        "only the newest version of each node is needed, {} held",
        after.versions
    );
    assert!(after.bytes * 8 < before.bytes, "{after:?} vs {before:?}");
    for node in 0..4 {
        assert_eq!(a.fetch_state(node, newest).unwrap(), rounds);
        assert_eq!(a.current_state(node).unwrap(), rounds);
    }
    // The log keeps working after a rewrite: more epochs, more versions.
    for round in rounds + 1..=rounds + 100 {
        a.set_state(0, round).unwrap();
        let s = a.snap();
        assert_eq!(a.fetch_state(0, s).unwrap(), round);
        assert_eq!(a.fetch_state(1, s).unwrap(), rounds);
    }
    assert_eq!(a.fetch_state(0, newest).unwrap(), rounds);
}

#[test]
fn a_node_written_then_left_idle_is_reclaimed_too() {
    let a: SnapshotArray = SnapshotArray::new(2);
    let rounds = if cfg!(miri) { 300 } else { 5000u64 };
    for round in 1..=rounds {
        a.set_state(0, round).unwrap();
        a.snap();
    }
    let big = a.stats().bytes;
    a.set_state(1, 1).unwrap();
    let s = a.snap();
    a.compact(s).unwrap();
    assert!(a.stats().bytes * 10 < big, "{} vs {big}", a.stats().bytes);
    assert_eq!(a.fetch_state(0, s).unwrap(), rounds);
}

#[test]
fn pins_stop_compaction_until_dropped() {
    let a: SnapshotArray = SnapshotArray::new(1);
    a.set_state(0, 1).unwrap();
    let pin = a.snap_pinned();
    a.set_state(0, 2).unwrap();
    let later = a.snap();
    assert_eq!(a.live_pins(), 1);
    assert_eq!(
        a.compact(later).unwrap(),
        pin.id(),
        "the floor stops at the pin"
    );
    assert_eq!(pin.fetch_state(0).unwrap(), 1);
    assert_eq!(pin.fetch_all(), vec![1]);
    let second = a.pin(pin.id()).unwrap();
    drop(pin);
    assert_eq!(a.compact(later).unwrap(), second.id(), "still pinned once");
    drop(second);
    assert_eq!(a.live_pins(), 0);
    assert_eq!(a.compact(later).unwrap(), later);
    assert!(matches!(a.pin(id(0)), Err(Error::Compacted { .. })));
    assert!(matches!(a.pin(id(99)), Err(Error::SnapshotNotTaken { .. })));
    assert_eq!(a.stats().live_pins, 0);
}

#[test]
fn retention_moves_the_floor_with_every_snap() {
    let a: SnapshotArray = SnapshotArray::builder()
        .len(2)
        .retain_last(3)
        .background_compaction(false)
        .build();
    for round in 1..=10u64 {
        a.set_state(0, round).unwrap();
        let s = a.snap();
        assert_eq!(a.oldest_readable().get(), (s.get() + 1).saturating_sub(3));
    }
    assert!(matches!(
        a.fetch_state(0, id(6)),
        Err(Error::Compacted { .. })
    ));
    assert_eq!(a.fetch_state(0, id(7)).unwrap(), 8);
    // A pin holds retention back too.
    let pin = a.pin(id(8)).unwrap();
    for _ in 0..5 {
        a.snap();
    }
    assert_eq!(a.oldest_readable(), id(8));
    drop(pin);
    a.snap();
    assert_eq!(a.oldest_readable().get(), a.snapshots_taken() - 3);
}

#[test]
#[cfg_attr(miri, ignore = "waits on a real background thread")]
fn the_background_compactor_reclaims_without_being_asked() {
    let a: SnapshotArray = SnapshotArray::builder()
        .len(8)
        .retain_last(2)
        .compaction_interval(std::time::Duration::from_millis(1))
        .build();
    for round in 1..=3000u64 {
        for node in 0..8 {
            a.set_state(node, round).unwrap();
        }
        a.snap();
    }
    // The last snap nudged the compactor; wait (without asserting how long) for it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        a.snap();
        let versions = a.stats().versions;
        if versions < 8 * 64 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no background reclamation: {versions} versions held"
        );
        thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(a.current_state(3).unwrap(), 3000);
}

#[test]
fn whole_snapshot_reads_and_changes() {
    let a: SnapshotArray = SnapshotArray::new(5);
    let s0 = a.snap();
    a.set_state(1, 10).unwrap();
    a.set_state(3, 30).unwrap();
    let s1 = a.snap();
    a.set_state(3, 0).unwrap();
    a.set_state(4, 40).unwrap();
    let s2 = a.snap();
    assert_eq!(a.fetch_all(s1).unwrap(), vec![0, 10, 0, 30, 0]);
    assert_eq!(
        a.iter_at(s2).unwrap().collect::<Vec<_>>(),
        vec![0, 10, 0, 0, 40]
    );
    assert_eq!(a.iter_at(s2).unwrap().len(), 5);
    assert_eq!(a.changed_since(s0, s1).unwrap(), vec![1, 3]);
    assert_eq!(a.changed_since(s1, s2).unwrap(), vec![3, 4]);
    assert_eq!(a.changed_since(s0, s2).unwrap(), vec![1, 3, 4]);
    assert_eq!(a.min_state(s1).unwrap(), Some(0));
    assert!(matches!(
        a.fetch_all(id(3)),
        Err(Error::SnapshotNotTaken { .. })
    ));
    // `since` may be compacted away; only `until` must be readable.
    a.compact(s2).unwrap();
    assert_eq!(a.changed_since(s0, s2).unwrap(), vec![1, 3, 4]);
    assert!(matches!(
        a.changed_since(s0, s1),
        Err(Error::Compacted { .. })
    ));
    let empty: SnapshotArray = SnapshotArray::new(0);
    assert_eq!(empty.min_state(empty.snap()).unwrap(), None);
}

#[test]
fn advance_never_goes_back() {
    let a: SnapshotArray<i64> = SnapshotArray::new(1);
    assert!(!a.advance(0, -3).unwrap(), "0 is higher than -3");
    assert!(a.advance(0, 5).unwrap());
    let s = a.snap();
    assert!(!a.advance(0, 4).unwrap());
    assert!(a.advance(0, 9).unwrap());
    assert!(!a.advance(0, 9).unwrap());
    assert_eq!(a.fetch_state(0, s).unwrap(), 5);
    assert_eq!(a.current_state(0).unwrap(), 9);
    assert!(matches!(
        a.advance(1, 1),
        Err(Error::IndexOutOfBounds { .. })
    ));
    // A set overrides; advance then starts from it.
    a.set_state(0, 1).unwrap();
    assert!(a.advance(0, 2).unwrap());
    assert_eq!(a.current_state(0).unwrap(), 2);

    let b: SnapshotArray<String> = SnapshotArray::new(1);
    assert!(b.advance(0, "b".into()).unwrap());
    assert!(!b.advance(0, "a".into()).unwrap());
    b.snap();
    assert!(b.advance(0, "c".into()).unwrap());
    assert_eq!(b.current_state(0).unwrap(), "c");
}

#[test]
fn racing_reporters_never_move_progress_back() {
    let rounds: u64 = if cfg!(miri) { 30 } else { 20_000 };
    let a: SnapshotArray = SnapshotArray::new(2);
    let done = AtomicBool::new(false);
    let mut seen = Vec::new();
    thread::scope(|s| {
        let reporters: Vec<_> = (0..3u64)
            .map(|r| {
                let a = &a;
                s.spawn(move || {
                    // Each reporter reports a different interleaving of the same progress.
                    for k in 0..rounds {
                        let v = if k % 3 == r {
                            k
                        } else {
                            k.saturating_sub(r + 1)
                        };
                        a.advance((k % 2) as usize, v).unwrap();
                    }
                })
            })
            .collect();
        let snapper = s.spawn(|| {
            let mut last = vec![0u64; 2];
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::Relaxed);
                let snap = a.snap();
                let now = a.fetch_all(snap).unwrap();
                for (node, (old, new)) in last.iter().zip(&now).enumerate() {
                    assert!(old <= new, "node {node} went back from {old} to {new}");
                }
                for (node, at_snap) in now.iter().enumerate() {
                    assert!(a.current_state(node).unwrap() >= *at_snap);
                }
                seen.push((snap, now.clone()));
                last = now;
                if finished {
                    return seen;
                }
            }
        });
        for r in reporters {
            r.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        seen = snapper.join().unwrap();
    });
    let top = rounds - 1;
    let (even, odd) = if top.is_multiple_of(2) {
        (top, top - 1)
    } else {
        (top - 1, top)
    };
    assert_eq!(a.current_state(0).unwrap(), even);
    assert_eq!(a.current_state(1).unwrap(), odd);
    for (snap, values) in seen {
        assert_eq!(
            a.fetch_all(snap).unwrap(),
            values,
            "snapshot {snap} changed"
        );
    }
}

#[test]
fn compaction_racing_writers_and_readers_keeps_readable_snapshots_fixed() {
    let rounds: u64 = if cfg!(miri) { 40 } else { 20_000 };
    let a: SnapshotArray = SnapshotArray::new(4);
    let done = AtomicBool::new(false);
    thread::scope(|s| {
        let writer = s.spawn(|| {
            for round in 1..=rounds {
                for node in 0..4 {
                    a.set_state(node, round).unwrap();
                }
            }
        });
        // Snaps, records, re-reads, and compacts everything but the last few.
        s.spawn(|| {
            let mut kept: Vec<(SnapshotId, Vec<u64>)> = Vec::new();
            loop {
                let finished = done.load(Ordering::Relaxed);
                let snap = a.snap();
                let values = a.fetch_all(snap).unwrap();
                kept.push((snap, values));
                if kept.len() > 6 {
                    let floor = kept[kept.len() - 4].0;
                    assert!(a.compact(floor).unwrap() >= floor);
                    kept.retain(|(s, _)| *s >= floor);
                }
                for (snap, values) in &kept {
                    assert_eq!(
                        &a.fetch_all(*snap).unwrap(),
                        values,
                        "snapshot {snap} changed"
                    );
                }
                if finished {
                    return;
                }
            }
        });
        // Readers of arbitrary ids: every answer is either a value or a typed error.
        s.spawn(|| {
            let mut k = 0u64;
            while !done.load(Ordering::Relaxed) {
                k = k
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let taken = a.snapshots_taken();
                if taken == 0 {
                    continue;
                }
                let snap = id((k >> 33) % taken);
                match a.fetch_state((k % 4) as usize, snap) {
                    Ok(v) => assert!(v <= rounds),
                    Err(Error::Compacted { oldest, .. }) => assert!(oldest > snap),
                    Err(e) => panic!("unexpected {e}"),
                }
            }
        });
        writer.join().unwrap();
        done.store(true, Ordering::Relaxed);
    });
    assert_eq!(a.fetch_all(a.snap()).unwrap(), vec![rounds; 4]);
}
