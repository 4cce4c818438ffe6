//! Every operation and every error of the public API, single-threaded.
#![cfg(not(snapstate_loom))]

use snapstate::{Error, SnapshotArray, SnapshotId};

#[test]
fn seed_walkthrough() {
    let a: SnapshotArray = SnapshotArray::new(3);
    a.set_state(1, 4).unwrap();
    let s0 = a.snap();
    assert_eq!(s0, SnapshotId::from(0));
    a.set_state(1, 7).unwrap();
    assert_eq!(a.fetch_state(1, s0).unwrap(), 4);
    assert_eq!(a.fetch_state(0, s0).unwrap(), 0);
    assert_eq!(a.current_state(1).unwrap(), 7);
    let s1 = a.snap();
    assert_eq!(s1.get(), 1);
    assert_eq!(a.fetch_state(1, s1).unwrap(), 7);
    assert_eq!(a.fetch_state(1, s0).unwrap(), 4);
}

#[test]
fn nodes_start_at_default_and_snapshots_before_a_write_see_it() {
    let a: SnapshotArray = SnapshotArray::new(2);
    let s0 = a.snap();
    let s1 = a.snap();
    a.set_state(0, 9).unwrap();
    let s2 = a.snap();
    assert_eq!(a.fetch_state(0, s0).unwrap(), 0);
    assert_eq!(a.fetch_state(0, s1).unwrap(), 0);
    assert_eq!(a.fetch_state(0, s2).unwrap(), 9);
    assert_eq!(a.fetch_state(1, s2).unwrap(), 0);
}

#[test]
fn many_writes_in_one_epoch_keep_the_last() {
    let a: SnapshotArray = SnapshotArray::new(1);
    for v in 1..=1000 {
        a.set_state(0, v).unwrap();
    }
    let s = a.snap();
    assert_eq!(a.fetch_state(0, s).unwrap(), 1000);
}

#[test]
fn long_histories_cross_segments_and_stay_searchable() {
    let a: SnapshotArray = SnapshotArray::new(2);
    let mut ids = Vec::new();
    let n = if cfg!(miri) { 150 } else { 3000u64 };
    for v in 0..n {
        a.set_state(0, v * 3).unwrap();
        if v % 3 == 0 {
            a.set_state(1, v).unwrap();
        }
        ids.push(a.snap());
    }
    for (v, &s) in ids.iter().enumerate() {
        let v = v as u64;
        assert_eq!(a.fetch_state(0, s).unwrap(), v * 3);
        assert_eq!(a.fetch_state(1, s).unwrap(), v - v % 3);
    }
}

#[test]
fn index_errors_name_the_index_and_the_length() {
    let a: SnapshotArray = SnapshotArray::new(3);
    let s = a.snap();
    let want = Error::IndexOutOfBounds { idx: 3, len: 3 };
    assert_eq!(a.set_state(3, 1), Err(want.clone()));
    assert_eq!(a.fetch_state(3, s), Err(want.clone()));
    assert_eq!(a.current_state(3), Err(want));
    assert_eq!(
        a.set_state(usize::MAX, 1).unwrap_err().to_string(),
        format!("node index {} is out of range (valid: 0..3)", usize::MAX)
    );
    let empty: SnapshotArray = SnapshotArray::new(0);
    assert!(empty.is_empty());
    assert_eq!(
        empty.set_state(0, 1),
        Err(Error::IndexOutOfBounds { idx: 0, len: 0 })
    );
}

#[test]
fn snapshot_errors_name_the_id_and_the_valid_range() {
    let a: SnapshotArray = SnapshotArray::new(1);
    let err = a.fetch_state(0, SnapshotId::from(0)).unwrap_err();
    assert_eq!(
        err,
        Error::SnapshotNotTaken {
            id: SnapshotId::from(0),
            taken: 0
        }
    );
    a.snap();
    a.snap();
    let err = a.fetch_state(0, SnapshotId::from(u64::MAX)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "snapshot {} has not been taken yet (valid: 0..=1)",
            u64::MAX
        )
    );
    assert!(a.fetch_state(0, SnapshotId::from(1)).is_ok());
    assert_eq!(a.snapshots_taken(), 2);
}

#[test]
fn errors_are_std_errors() {
    fn is_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    is_error(&Error::IndexOutOfBounds { idx: 0, len: 0 });
    let c = Error::Compacted {
        id: SnapshotId::from(1),
        oldest: SnapshotId::from(4),
    };
    assert_eq!(
        c.to_string(),
        "snapshot 1 was compacted away (oldest readable: 4)"
    );
}

#[test]
fn snapshot_ids_convert_both_ways() {
    let id = SnapshotId::from(42);
    assert_eq!(u64::from(id), 42);
    assert_eq!(id.to_string(), "42");
    assert!(SnapshotId::from(1) < SnapshotId::from(2));
    let set: std::collections::HashSet<_> = [id, id].into_iter().collect();
    assert_eq!(set.len(), 1);
}

#[test]
fn boxed_values_are_kept_cloned_and_freed() {
    let a: SnapshotArray<String> = SnapshotArray::new(2);
    a.set_state(0, "a".repeat(10)).unwrap();
    let s0 = a.snap();
    a.set_state(0, "b".into()).unwrap();
    a.set_state(0, "c".into()).unwrap();
    a.set_state(1, "x".into()).unwrap();
    let s1 = a.snap();
    assert_eq!(a.fetch_state(0, s0).unwrap(), "a".repeat(10));
    assert_eq!(a.fetch_state(0, s1).unwrap(), "c");
    assert_eq!(a.fetch_state(1, s0).unwrap(), "");
    assert_eq!(a.current_state(1).unwrap(), "x");
}

#[test]
fn every_value_is_dropped_exactly_once() {
    use std::sync::atomic::{AtomicIsize, Ordering};
    use std::sync::Arc;

    #[derive(Default)]
    struct Counted(Option<Arc<AtomicIsize>>);
    impl Clone for Counted {
        fn clone(&self) -> Self {
            if let Some(c) = &self.0 {
                c.fetch_add(1, Ordering::Relaxed);
            }
            Counted(self.0.clone())
        }
    }
    impl Drop for Counted {
        fn drop(&mut self) {
            if let Some(c) = &self.0 {
                c.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
    let live = Arc::new(AtomicIsize::new(0));
    let counter = live.clone();
    // A spawned thread joined with `join` (not a scoped one): `join` also waits for the
    // thread-local destructors, which unregister from the collector.
    std::thread::spawn(move || {
        let make = || {
            counter.fetch_add(1, Ordering::Relaxed);
            Counted(Some(counter.clone()))
        };
        {
            let a: SnapshotArray<Counted> = SnapshotArray::new(3);
            for round in 0..50 {
                for node in 0..3 {
                    a.set_state(node, make()).unwrap();
                }
                if round % 7 == 0 {
                    let snap = a.snap();
                    drop(a.fetch_state(1, snap).unwrap());
                }
                drop(a.current_state(2).unwrap());
            }
        }
    })
    .join()
    .unwrap();
    // The thread has exited, so its collector handle is gone and every deferred drop has
    // run.
    assert_eq!(live.load(Ordering::Relaxed), 0);
}

#[test]
fn arrays_of_other_primitive_types_work() {
    let a: SnapshotArray<i32> = SnapshotArray::new(1);
    a.set_state(0, -5).unwrap();
    let s = a.snap();
    a.set_state(0, i32::MIN).unwrap();
    assert_eq!(a.fetch_state(0, s).unwrap(), -5);
    assert_eq!(a.current_state(0).unwrap(), i32::MIN);

    let b: SnapshotArray<(u32, bool)> = SnapshotArray::new(1);
    b.set_state(0, (3, true)).unwrap();
    assert_eq!(b.current_state(0).unwrap(), (3, true));
}

#[test]
fn many_arrays_on_one_thread_do_not_interfere() {
    let arrays: Vec<SnapshotArray> = (0..20).map(|_| SnapshotArray::new(1)).collect();
    for (i, a) in arrays.iter().enumerate() {
        a.set_state(0, i as u64).unwrap();
    }
    drop(arrays);
    let a: SnapshotArray = SnapshotArray::new(1);
    a.set_state(0, 1).unwrap();
    let s = a.snap();
    assert_eq!(a.fetch_state(0, s).unwrap(), 1);
}

#[test]
fn array_is_send_and_sync_and_debug() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SnapshotArray>();
    send_sync::<SnapshotArray<String>>();
    let a: SnapshotArray = SnapshotArray::new(2);
    a.snap();
    assert_eq!(
        format!("{a:?}"),
        "SnapshotArray { len: 2, snapshots_taken: 1, oldest_readable: 0, .. }"
    );
}

#[test]
fn readers_read_like_the_array_and_survive_compaction() {
    let a: SnapshotArray<String> = SnapshotArray::new(2);
    a.set_state(0, "a".into()).unwrap();
    let s0 = a.snap();
    a.set_state(0, "b".into()).unwrap();
    let s1 = a.snap();
    let mut reader = a.reader();
    assert_eq!(reader.fetch_state(0, s0).unwrap(), "a");
    assert_eq!(reader.fetch_state(1, s1).unwrap(), "");
    assert_eq!(reader.current_state(0).unwrap(), "b");
    assert!(matches!(
        reader.fetch_state(2, s0),
        Err(Error::IndexOutOfBounds { idx: 2, len: 2 })
    ));
    a.compact(s1).unwrap();
    assert!(matches!(
        reader.fetch_state(0, s0),
        Err(Error::Compacted { .. })
    ));
    reader.refresh();
    assert_eq!(reader.fetch_state(0, s1).unwrap(), "b");
}
