//! Shared by the criterion bench files, each of which includes it with `mod common;`
//! (a directory, so Cargo does not take it for a bench target of its own).

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use snapstate_benches::workload::{timed, Workload, NODES};
use snapstate_benches::{Store, StoreVisitor};

/// The suite's criterion settings (short warm-up and measurement, so `cargo bench` stays
/// a few minutes on 2 cores), with `samples` samples per benchmark.
pub(crate) fn config(samples: usize) -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(samples)
}

/// One harness workload on every implementation at 1 and 2 threads, as the group
/// `{prefix}/{workload name}`, timed by the harness's own pool (`workload::timed`).
#[allow(
    dead_code,
    reason = "only the workload benches use it; every bench includes this module"
)]
pub(crate) struct WorkloadGroup<'c> {
    pub(crate) c: &'c mut Criterion,
    pub(crate) prefix: &'static str,
    pub(crate) w: Workload,
}

impl StoreVisitor for WorkloadGroup<'_> {
    fn visit<S: Store>(&mut self) {
        let mut g = self
            .c
            .benchmark_group(format!("{}/{}", self.prefix, self.w.name()));
        g.throughput(Throughput::Elements(1));
        for threads in [1, 2] {
            g.bench_with_input(BenchmarkId::new(S::NAME, threads), &threads, |b, &t| {
                b.iter_custom(|iters| timed::<S>(self.w, t, NODES, iters));
            });
        }
        g.finish();
    }
}
