//! Mixed workloads on every implementation, 1 and 2 threads: write-heavy (90% set /
//! 9% fetch / 1% snap), read-heavy (9/90/1) and snap-heavy (45/35/20).
//!
//! `cargo bench -p snapstate-benches --bench mixed`

mod common;

use common::WorkloadGroup;
use criterion::{criterion_group, criterion_main, Criterion};
use snapstate_benches::for_each_store;
use snapstate_benches::workload::Workload;

fn mixed(c: &mut Criterion) {
    snapstate_benches::stats::steady_heap();
    for w in [
        Workload::WriteHeavy,
        Workload::ReadHeavy,
        Workload::SnapHeavy,
    ] {
        for_each_store(&mut WorkloadGroup {
            c,
            prefix: "mixed",
            w,
        });
    }
}

criterion_group! {
    name = benches;
    config = common::config(20);
    targets = mixed
}
criterion_main!(benches);
