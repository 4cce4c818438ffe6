//! Loom models of the features after the core: compaction racing writers, readers and
//! pins, and racing `advance` calls.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use snapstate::{Error, SnapshotArray};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// A writer appends, a compactor drops everything before the newest snapshot (rewriting
/// the node's segment), and a reader reads the retained snapshot meanwhile: the reader
/// sees the retained value, nothing freed is ever read, and afterwards the old snapshot
/// is gone while the retained one and the new write are intact.
#[test]
fn compaction_racing_a_writer_and_a_reader() {
    model(|| {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
        a.set_state(0, 1).unwrap();
        let old = a.snap();
        a.set_state(0, 2).unwrap();
        let kept = a.snap();
        let writer = {
            let a = a.clone();
            thread::spawn(move || a.set_state(0, 3).unwrap())
        };
        let compactor = {
            let a = a.clone();
            thread::spawn(move || assert_eq!(a.compact(kept).unwrap(), kept))
        };
        assert_eq!(a.fetch_state(0, kept).unwrap(), 2);
        writer.join().unwrap();
        compactor.join().unwrap();
        assert_eq!(a.fetch_state(0, kept).unwrap(), 2);
        assert!(matches!(
            a.fetch_state(0, old),
            Err(Error::Compacted { .. })
        ));
        assert_eq!(a.current_state(0).unwrap(), 3);
        let next = a.snap();
        assert_eq!(a.fetch_state(0, next).unwrap(), 3);
    });
}

/// A pin taken while a compaction runs either wins (the compaction stops at it and the
/// pinned snapshot stays readable) or loses cleanly with `Compacted`.
#[test]
fn pin_taken_while_compaction_runs() {
    model(|| {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
        a.set_state(0, 1).unwrap();
        let old = a.snap();
        a.set_state(0, 2).unwrap();
        let newest = a.snap();
        let pinner = {
            let a = a.clone();
            thread::spawn(move || match a.pin(old) {
                Ok(pin) => {
                    assert_eq!(pin.fetch_state(0).unwrap(), 1);
                    true
                }
                Err(e) => {
                    assert!(matches!(e, Error::Compacted { .. }));
                    false
                }
            })
        };
        let floor = a.compact(newest).unwrap();
        let pinned = pinner.join().unwrap();
        if pinned {
            // The pin may have been dropped before or after the floor moved.
            assert!(floor == old || floor == newest);
        } else {
            assert_eq!(floor, newest);
        }
        assert_eq!(a.fetch_state(0, newest).unwrap(), 2);
    });
}

/// Two reporters advance one node across a snapshot boundary: the snapshot shows one of
/// the reported values (or none), never changes afterwards, and the node ends at the
/// highest report whatever the interleaving.
#[test]
fn racing_advances_across_a_snap() {
    model(|| {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
        let reporters: Vec<_> = [5u64, 7]
            .into_iter()
            .map(|v| {
                let a = a.clone();
                thread::spawn(move || {
                    a.advance(0, v).unwrap();
                })
            })
            .collect();
        let s = a.snap();
        let seen = a.fetch_state(0, s).unwrap();
        assert!([0, 5, 7].contains(&seen));
        for r in reporters {
            r.join().unwrap();
        }
        assert_eq!(a.fetch_state(0, s).unwrap(), seen, "snapshot {s} changed");
        assert_eq!(a.current_state(0).unwrap(), 7);
        let t = a.snap();
        assert_eq!(a.fetch_state(0, t).unwrap(), 7);
    });
}
