//! Mixed workloads on every implementation, 1 and 2 threads: write-heavy (90% set /
//! 9% fetch / 1% snap), read-heavy (9/90/1) and snap-heavy (45/35/20).
//!
//! `cargo bench -p snapstate-benches --bench mixed`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use snapstate_benches::workload::{timed, Workload, NODES};
use snapstate_benches::{for_each_store, Store, StoreVisitor};

struct Mixed<'c> {
    c: &'c mut Criterion,
    w: Workload,
}

impl StoreVisitor for Mixed<'_> {
    fn visit<S: Store>(&mut self) {
        let mut g = self.c.benchmark_group(format!("mixed/{}", self.w.name()));
        g.throughput(Throughput::Elements(1));
        for threads in [1, 2] {
            g.bench_with_input(BenchmarkId::new(S::NAME, threads), &threads, |b, &t| {
                b.iter_custom(|iters| timed::<S>(self.w, t, NODES, iters));
            });
        }
        g.finish();
    }
}

fn mixed(c: &mut Criterion) {
    snapstate_benches::stats::steady_heap();
    for w in [
        Workload::WriteHeavy,
        Workload::ReadHeavy,
        Workload::SnapHeavy,
    ] {
        for_each_store(&mut Mixed { c, w });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(20);
    targets = mixed
}
criterion_main!(benches);
