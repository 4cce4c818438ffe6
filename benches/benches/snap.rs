//! `snap()` on every implementation beside a bare `AtomicU64::fetch_add`, with 0 and 4
//! writer threads registered (each has written once and then waits), at 1e2 and 1e6
//! nodes.
//!
//! `cargo bench -p snapstate-benches --bench snap`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use snapstate_benches::{for_each_store, Store, StoreVisitor};

/// Runs `f` while `k` threads that have each written once to `store` stay alive.
fn with_idle_writers<S: Store, R>(store: &S, k: usize, f: impl FnOnce() -> R) -> R {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Mutex::new(rx);
    let ready = std::sync::Barrier::new(k + 1);
    std::thread::scope(|sc| {
        for t in 0..k {
            let (store, ready, rx) = (store, &ready, &rx);
            sc.spawn(move || {
                store.set_state(t, 1);
                ready.wait();
                // Wait for the end: the sender is dropped after `f`.
                let _ = rx.lock().map(|r| r.recv());
            });
        }
        ready.wait();
        let out = f();
        drop(tx);
        out
    })
}

struct Snaps<'c> {
    c: &'c mut Criterion,
    nodes: usize,
    writers: usize,
}

impl StoreVisitor for Snaps<'_> {
    fn visit<S: Store>(&mut self) {
        let store = S::new(self.nodes);
        let mut g = self.c.benchmark_group(format!(
            "snap/nodes={}/writers={}",
            self.nodes, self.writers
        ));
        with_idle_writers(&store, self.writers, || {
            // Ids count up from 0: checked before timing.
            for want in 0..100 {
                assert_eq!(store.snap(), want, "{}: snap() ids", S::NAME);
            }
            g.bench_function(BenchmarkId::from_parameter(S::NAME), |b| {
                b.iter(|| black_box(store.snap()))
            });
        });
        g.finish();
    }
}

fn snap(c: &mut Criterion) {
    snapstate_benches::stats::steady_heap();
    for nodes in [100, 1_000_000] {
        for writers in [0, 4] {
            let counter = AtomicU64::new(0);
            c.benchmark_group(format!("snap/nodes={nodes}/writers={writers}"))
                .bench_function(BenchmarkId::from_parameter("bare-fetch_add"), |b| {
                    b.iter(|| black_box(counter.fetch_add(1, Ordering::Relaxed)))
                });
            for_each_store(&mut Snaps { c, nodes, writers });
        }
    }
}

criterion_group! {
    name = benches;
    config = common::config(30);
    targets = snap
}
criterion_main!(benches);
