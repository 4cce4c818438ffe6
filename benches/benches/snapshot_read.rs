//! Whole-snapshot reads: all 1024 nodes at one snapshot.
//!
//! `snapstate` uses `SnapshotArray::fetch_all` (one pin for the whole read); the lock
//! baselines hold their lock once; `cow-arcswap` loads one pointer.
//!
//! `cargo bench -p snapstate-benches --bench snapshot_read`

use std::hint::black_box;

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use snapstate_benches::workload::{prefill, prefill_value, NODES};
use snapstate_benches::{for_each_store, Store, StoreVisitor};

struct Whole<'c> {
    c: &'c mut Criterion,
}

impl StoreVisitor for Whole<'_> {
    fn visit<S: Store>(&mut self) {
        let store = S::new(NODES);
        let snaps = prefill(&store, NODES);
        let mut out = Vec::with_capacity(NODES);
        // Every whole snapshot reads the prefill's values: checked before timing.
        for s in 0..snaps {
            store.read_snapshot(s, NODES, &mut out);
            let want: Vec<u64> = (0..NODES).map(|i| prefill_value(s, i)).collect();
            assert_eq!(out, want, "{}: read_snapshot({s})", S::NAME);
        }
        let mut g = self.c.benchmark_group("snapshot_read/nodes=1024");
        g.throughput(Throughput::Elements(NODES as u64));
        let mut s = 0;
        g.bench_function(BenchmarkId::from_parameter(S::NAME), |b| {
            b.iter(|| {
                s = (s + 1) % snaps;
                store.read_snapshot(s, NODES, &mut out);
                black_box(out.len())
            })
        });
        g.finish();
    }
}

fn snapshot_read(c: &mut Criterion) {
    snapstate_benches::stats::steady_heap();
    for_each_store(&mut Whole { c });
}

criterion_group! {
    name = benches;
    config = common::config(20);
    targets = snapshot_read
}
criterion_main!(benches);
