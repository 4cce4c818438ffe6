//! `set_state` on every implementation: distinct nodes per thread and one hot node,
//! 1024 nodes, a `snap()` after every 99 sets, 1 and 2 threads.
//!
//! `cargo bench -p snapstate-benches --bench set_state`

mod common;

use common::WorkloadGroup;
use criterion::{criterion_group, criterion_main, Criterion};
use snapstate_benches::for_each_store;
use snapstate_benches::workload::Workload;

fn set_state(c: &mut Criterion) {
    snapstate_benches::stats::steady_heap();
    for w in [Workload::SetDistinct, Workload::SetHot] {
        for_each_store(&mut WorkloadGroup {
            c,
            prefix: "set_state",
            w,
        });
    }
}

criterion_group! {
    name = benches;
    config = common::config(20);
    targets = set_state
}
criterion_main!(benches);
