//! `set_state` on every implementation: distinct nodes per thread and one hot node,
//! 1024 nodes, a `snap()` after every 99 sets, 1 and 2 threads.
//!
//! `cargo bench -p snapstate-benches --bench set_state`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use snapstate_benches::workload::{timed, Workload, NODES};
use snapstate_benches::{for_each_store, Store, StoreVisitor};

struct Sets<'a, 'c> {
    c: &'c mut Criterion,
    w: Workload,
    _p: std::marker::PhantomData<&'a ()>,
}

impl StoreVisitor for Sets<'_, '_> {
    fn visit<S: Store>(&mut self) {
        let mut g = self
            .c
            .benchmark_group(format!("set_state/{}", self.w.name()));
        g.throughput(Throughput::Elements(1));
        for threads in [1, 2] {
            g.bench_with_input(BenchmarkId::new(S::NAME, threads), &threads, |b, &t| {
                b.iter_custom(|iters| timed::<S>(self.w, t, NODES, iters));
            });
        }
        g.finish();
    }
}

fn set_state(c: &mut Criterion) {
    snapstate_benches::stats::steady_heap();
    for w in [Workload::SetDistinct, Workload::SetHot] {
        for_each_store(&mut Sets {
            c,
            w,
            _p: std::marker::PhantomData,
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(20);
    targets = set_state
}
criterion_main!(benches);
