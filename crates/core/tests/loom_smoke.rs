//! Quick loom models run from the core itself; the full set lives in `loom-tests/`.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use snapstate::{SnapshotArray, SnapshotId};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

#[test]
fn trap_a_returned_snapshot_never_changes() {
    model(|| {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
        let w = {
            let a = a.clone();
            thread::spawn(move || a.set_state(0, 7).unwrap())
        };
        let s = a.snap();
        let first = a.fetch_state(0, s).unwrap();
        w.join().unwrap();
        let second = a.fetch_state(0, s).unwrap();
        assert_eq!(first, second, "snapshot {s} changed after snap() returned");
        assert!(first == 0 || first == 7);
    });
}

#[test]
fn two_writers_same_node_then_snap() {
    model(|| {
        let a: Arc<SnapshotArray> = Arc::new(SnapshotArray::new(1));
        let hs: Vec<_> = [1u64, 2]
            .into_iter()
            .map(|v| {
                let a = a.clone();
                thread::spawn(move || a.set_state(0, v).unwrap())
            })
            .collect();
        let s = a.snap();
        let first = a.fetch_state(0, s).unwrap();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(a.fetch_state(0, s).unwrap(), first);
        let cur = a.current_state(0).unwrap();
        assert!(cur == 1 || cur == 2);
        let s2 = a.snap();
        assert_eq!(a.fetch_state(0, s2).unwrap(), cur);
        let _ = SnapshotId::from(0);
    });
}
