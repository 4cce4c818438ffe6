//! The index is byte-identical under injected failures: across fault seeds and rates, the
//! coordinated build gives the same index file bytes as a failure-free run.

use std::sync::Arc;
use std::time::Duration;

use snapstate_coordinator::{
    Coordinator, CoordinatorConfig, FaultPlan, InjectedPanic, NoopObserver,
};
use snapstate_search::{encode_index, Corpus, IndexJob, InvertedIndex};

/// Keeps injected panics from printing a backtrace line per failure.
fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<InjectedPanic>().is_none() {
                default(info);
            }
        }));
    });
}

/// Snapshots every 2 ms; a short stall timeout keeps injected stalls cheap.
fn config(workers: usize, seed: u64, rate: f64) -> CoordinatorConfig {
    CoordinatorConfig::new(workers)
        .unwrap()
        .snapshot_interval(Duration::from_millis(2))
        .stall_timeout(Duration::from_millis(40))
        .faults(FaultPlan::new(seed, rate).unwrap())
}

#[test]
fn the_index_is_byte_identical_under_failures() {
    quiet_injected_panics();
    let corpus = Corpus::generated(240, 24, 5);
    // The reference: no faults, and a stall timeout no busy machine reaches.
    let reference_config = config(1, 0, 0.0).stall_timeout(Duration::from_secs(600));
    let clean = Coordinator::new(IndexJob::new(corpus.clone()), reference_config)
        .run(Arc::new(NoopObserver))
        .unwrap();
    assert_eq!(clean.stats.failures, 0);
    let (reference, checksum) = encode_index(&InvertedIndex::merge(&corpus, clean.outputs));
    for seed in 0..8u64 {
        let rate = [0.1, 0.3][seed as usize % 2];
        // Shards take milliseconds in a debug build; leave room so a busy machine does
        // not fail one shard `max_failures` times over.
        let config = config(3, seed, rate).stall_timeout(Duration::from_millis(200));
        let run = Coordinator::new(IndexJob::new(corpus.clone()), config)
            .run(Arc::new(NoopObserver))
            .unwrap();
        let (bytes, sum) = encode_index(&InvertedIndex::merge(&corpus, run.outputs));
        assert_eq!(sum, checksum, "seed {seed}");
        assert!(bytes == reference, "seed {seed}: index bytes differ");
    }
}
