//! What parallelism buys in each phase of an index build, on a real directory: the walk
//! (the `ignore` crate's threads), the merge of shard indexes, the encoding of the index
//! file (and its write, whose fsync no thread count changes), and the query path's
//! checksum (BLAKE3, `update_rayon`), each run on 1 thread and on N, interleaved,
//! medians over rounds.
//!
//! ```text
//! cargo run --release -p snapstate-search --example rayon_gain -- /tmp/doc [--threads 2] [--rounds 15]
//! ```
//!
//! Nothing is asserted; it prints one line per phase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use snapstate_coordinator::{Coordinator, CoordinatorConfig, NoopObserver};
use snapstate_search::{
    encode_index, write_index, Corpus, IndexFile, IndexJob, InvertedIndex, WalkOptions,
};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed().as_secs_f64(), out)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: rayon_gain DIR [--threads N] [--rounds N]");
    let (mut threads, mut rounds) = (2usize, 15usize);
    while let Some(a) = args.next() {
        let v = args.next().expect("a value");
        match a.as_str() {
            "--threads" => threads = v.parse().expect("--threads N"),
            "--rounds" => rounds = v.parse().expect("--rounds N"),
            _ => panic!("unknown flag {a}"),
        }
    }
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let many = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let corpus = Corpus::from_dir(&dir, 256).expect("a corpus");
    let config = CoordinatorConfig::new(threads)
        .unwrap()
        .stall_timeout(Duration::from_secs(60));
    let run = Coordinator::new(IndexJob::new(corpus.clone()), config)
        .run(Arc::new(NoopObserver))
        .expect("the job");
    let index = many.install(|| InvertedIndex::merge(&corpus, run.outputs.clone()));
    let out = tempfile::tempdir().unwrap();
    write_index(&index, out.path()).unwrap();
    let file_bytes = std::fs::read(out.path().join("index.snapidx")).unwrap();

    // [phase][0 = one thread, 1 = many]
    let names = [
        "walk",
        "merge",
        "encode",
        "write (encode, fsync, rename)",
        "index checksum (query open)",
    ];
    let mut t = vec![[Vec::new(), Vec::new()]; names.len()];
    for round in 0..=rounds {
        for k in [round % 2, 1 - round % 2] {
            let (pool, n) = if k == 0 { (&one, 1) } else { (&many, threads) };
            let walk = WalkOptions::new().threads(n);
            let (walk_s, _) = time(|| Corpus::from_dir_with(&dir, 256, &walk).unwrap());
            let shards = run.outputs.clone();
            let (merge_s, merged) = time(|| pool.install(|| InvertedIndex::merge(&corpus, shards)));
            assert!(merged == index, "the merge does not depend on its threads");
            let (encode_s, (bytes, _)) = time(|| pool.install(|| encode_index(&merged)));
            assert!(bytes == file_bytes, "nor does the encoding");
            let (write_s, _) = time(|| pool.install(|| write_index(&merged, out.path()).unwrap()));
            let (hash_s, _) = time(|| {
                if k == 0 {
                    blake3::hash(&file_bytes)
                } else {
                    pool.install(|| blake3::Hasher::new().update_rayon(&file_bytes).finalize())
                }
            });
            if round > 0 {
                for (phase, s) in [walk_s, merge_s, encode_s, write_s, hash_s]
                    .into_iter()
                    .enumerate()
                {
                    t[phase][k].push(s);
                }
            }
        }
    }
    let (open_s, _) = time(|| IndexFile::open(out.path()).unwrap());
    println!(
        "{dir}: {} docs, {} terms, index file {:.1} MB; {rounds} rounds, 1 thread vs {threads}, \
         medians (the machine may be shared: see the spread of repeated runs)",
        index.stats().docs,
        index.stats().terms,
        file_bytes.len() as f64 / 1e6
    );
    for (phase, name) in names.iter().enumerate() {
        let (a, b) = (median(t[phase][0].clone()), median(t[phase][1].clone()));
        println!(
            "  {name:<28} {:>8.2} ms on 1 thread, {:>8.2} ms on {threads}: {:.2}x",
            a * 1e3,
            b * 1e3,
            a / b
        );
    }
    println!("  (IndexFile::open, whole, once: {:.2} ms)", open_s * 1e3);
}
