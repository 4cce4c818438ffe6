//! Times the phases of an index build (walk, shards, merge, write) on a directory.
use std::sync::Arc;
use std::time::Instant;
use snapstate_coordinator::{Coordinator, CoordinatorConfig, NoopObserver};
use snapstate_search::{write_index, Corpus, IndexJob, InvertedIndex, WalkOptions};
fn main() {
    let dir = std::env::args().nth(1).expect("DIR");
    let workers: usize = std::env::args().nth(2).map_or(2, |w| w.parse().unwrap());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(workers).build().unwrap();
    let rounds: usize = std::env::args().nth(3).map_or(3, |w| w.parse().unwrap());
    for _ in 0..rounds {
        let t = Instant::now();
        let corpus = Corpus::from_dir_with(&dir, 256, &WalkOptions::new().threads(workers)).unwrap();
        let walk = t.elapsed();
        let t = Instant::now();
        let run = Coordinator::new(IndexJob::new(corpus.clone()), CoordinatorConfig::new(workers).unwrap().stall_timeout(std::time::Duration::from_secs(3600)))
            .run(Arc::new(NoopObserver)).unwrap();
        let job = t.elapsed();
        let t = Instant::now();
        let index = pool.install(|| InvertedIndex::merge(&corpus, run.outputs));
        let merge = t.elapsed();
        let t = Instant::now();
        let out = tempfile::tempdir().unwrap();
        pool.install(|| write_index(&index, out.path())).unwrap();
        let write = t.elapsed();
        println!("walk {walk:?} job {job:?} merge {merge:?} write {write:?}");
    }
}
