//! `fetch_state` on every implementation at random nodes, for recent snapshots (the
//! last 8) and old ones (uniform over all), with histories of 1e2, 1e4 and 1e6
//! versions per node; plus the classic binary search with no lock at all.
//!
//! `cargo bench -p snapstate-benches --bench fetch_state`

use std::hint::black_box;

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use snapstate_benches::baselines::Classic;
use snapstate_benches::rng::XorShift;
use snapstate_benches::{for_each_store, Store, StoreVisitor};

/// (versions per node, nodes): about 1e5 to 4e6 versions in all.
const SHAPES: [(u64, usize); 3] = [(100, 1024), (10_000, 64), (1_000_000, 4)];

fn build<S: Store>(versions: u64, nodes: usize) -> S {
    let s = S::new(nodes);
    for v in 0..versions {
        for i in 0..nodes {
            s.set_state(i, v + 1);
        }
        s.snap();
    }
    // Node `i` holds `v + 1` in snapshot `v`: check a sample before timing anything.
    let mut rng = XorShift::new(3);
    for _ in 0..1000 {
        let (v, i) = (rng.below(versions), rng.below(nodes as u64) as usize);
        assert_eq!(
            s.fetch_state(i, v),
            v + 1,
            "{}: fetch_state({i}, {v})",
            S::NAME
        );
    }
    s
}

/// A snapshot id: the last 8 (`recent`) or uniform over all (`old`).
#[inline(always)]
fn pick(rng: &mut XorShift, versions: u64, recent: bool) -> u64 {
    if recent {
        versions - 1 - rng.below(8.min(versions))
    } else {
        rng.below(versions)
    }
}

struct Fetch<'c> {
    c: &'c mut Criterion,
    versions: u64,
    nodes: usize,
}

impl StoreVisitor for Fetch<'_> {
    fn visit<S: Store>(&mut self) {
        let (versions, nodes) = (self.versions, self.nodes);
        let store: S = build(versions, nodes);
        for recent in [true, false] {
            let mut g = self.c.benchmark_group(format!(
                "fetch_state/{}/versions={versions}",
                if recent { "recent" } else { "old" }
            ));
            let mut rng = XorShift::new(7);
            g.bench_function(BenchmarkId::from_parameter(S::NAME), |b| {
                b.iter(|| {
                    let s = pick(&mut rng, versions, recent);
                    let i = rng.below(nodes as u64) as usize;
                    black_box(store.fetch_state(i, s))
                })
            });
            g.finish();
        }
    }
}

fn fetch_state(c: &mut Criterion) {
    snapstate_benches::stats::steady_heap();
    for (versions, nodes) in SHAPES {
        let mut classic = Classic::new(nodes);
        for v in 0..versions {
            for i in 0..nodes {
                classic.set(i, v + 1);
            }
            classic.snap();
        }
        assert_eq!(
            classic.fetch(nodes - 1, versions / 2),
            versions / 2 + 1,
            "classic"
        );
        for recent in [true, false] {
            let mut g = c.benchmark_group(format!(
                "fetch_state/{}/versions={versions}",
                if recent { "recent" } else { "old" }
            ));
            let mut rng = XorShift::new(7);
            g.bench_function(BenchmarkId::from_parameter("classic-nolock"), |b| {
                b.iter(|| {
                    let s = pick(&mut rng, versions, recent);
                    let i = rng.below(nodes as u64) as usize;
                    black_box(classic.fetch(i, s))
                })
            });
            g.finish();
        }
        drop(classic);
        for_each_store(&mut Fetch { c, versions, nodes });
    }
}

criterion_group! {
    name = benches;
    config = common::config(30);
    targets = fetch_state
}
criterion_main!(benches);
