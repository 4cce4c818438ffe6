//! The indexing job against the indexers a user would otherwise reach for, on a real
//! directory, interleaved: each round runs every indexer at every worker count, in a
//! rotating order, and the report gives medians and per-round ratios.
//!
//! - `job`: what `snapstate --input DIR --workers N` does with nothing failing: walk,
//!   coordinator with N workers and 256 shards (no checkpoint directory), parallel
//!   merge and write on N threads.
//! - `plain`: a plain rayon indexer over the same files with the same decoding and
//!   tokenizer (walkdir, per-thread hash maps, one merge; no fault tolerance); see
//!   `plain.rs`.
//! - `tantivy` (with `--features tantivy-bench`): tantivy indexing the same text with
//!   frequencies only; see `tantivy_index.rs`.
//!
//! Run:
//!
//! ```text
//! cp -a /usr/share/doc /tmp/doc
//! cargo run --release -p snapstate-search --example index_bench -- /tmp/doc
//! cargo run --release -p snapstate-search --example index_bench --features tantivy-bench -- /tmp/doc --rounds 7
//! ```
//!
//! Flags: `--workers 1,2,4`, `--rounds N` (after one warm-up round), `--shards N`,
//! `--only job|plain|tantivy` (one indexer, for a profiler: `--rounds 0 --only job` runs
//! it once).
//! Nothing here asserts a time; it panics only if the indexers disagree on what they
//! indexed.

mod plain;
#[cfg(feature = "tantivy-bench")]
mod tantivy_index;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::ThreadPool;
use snapstate_coordinator::{Coordinator, CoordinatorConfig, NoopObserver};
use snapstate_search::{write_index, Corpus, IndexJob, IndexStats, InvertedIndex, WalkOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Indexer {
    Job,
    Plain,
    #[cfg(feature = "tantivy-bench")]
    Tantivy,
}

const INDEXERS: &[Indexer] = &[
    Indexer::Job,
    Indexer::Plain,
    #[cfg(feature = "tantivy-bench")]
    Indexer::Tantivy,
];

impl Indexer {
    fn name(self) -> &'static str {
        match self {
            Indexer::Job => "job",
            Indexer::Plain => "plain",
            #[cfg(feature = "tantivy-bench")]
            Indexer::Tantivy => "tantivy",
        }
    }
}

struct Args {
    dir: PathBuf,
    workers: Vec<usize>,
    rounds: usize,
    shards: usize,
    only: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        dir: PathBuf::new(),
        workers: vec![1, 2, 4],
        rounds: 5,
        shards: 256,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--workers" => {
                args.workers = value()
                    .split(',')
                    .map(|w| w.parse().expect("--workers 1,2,4"))
                    .collect();
            }
            "--rounds" => args.rounds = value().parse().expect("--rounds N"),
            "--shards" => args.shards = value().parse().expect("--shards N"),
            "--only" => args.only = Some(value()),
            "--bench" => {} // passed by `cargo bench`-style runners
            dir => args.dir = PathBuf::from(dir),
        }
    }
    assert!(
        !args.dir.as_os_str().is_empty(),
        "usage: index_bench DIR [--workers 1,2,4] [--rounds N] [--shards N]"
    );
    args
}

/// The job as `snapstate --input DIR --workers N --failure-rate 0` runs it.
fn job(dir: &Path, workers: usize, shards: usize, pool: &ThreadPool, out: &Path) -> IndexStats {
    let walk = WalkOptions::new().threads(workers).exclude(out);
    let corpus = Corpus::from_dir_with(dir, shards, &walk).expect("a corpus");
    let config = CoordinatorConfig::new(workers)
        .expect("workers")
        .snapshot_interval(Duration::from_millis(250))
        .stall_timeout(Duration::from_secs(10));
    let job = IndexJob::new(corpus.clone());
    let run = Coordinator::new(job, config)
        .run(Arc::new(NoopObserver))
        .expect("the job");
    let index = pool.install(|| InvertedIndex::merge(&corpus, run.outputs));
    pool.install(|| write_index(&index, out)).expect("write");
    index.stats()
}

/// CPU time (user and system) this process has used so far, in seconds: on a shared
/// machine, the work a run did, where its wall time also counts the neighbours'.
#[cfg(unix)]
fn cpu_secs() -> f64 {
    // SAFETY: getrusage writes one `rusage` into the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

#[cfg(not(unix))]
fn cpu_secs() -> f64 {
    0.0
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args = parse_args();
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let pools: Vec<ThreadPool> = args
        .workers
        .iter()
        .map(|&w| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(w)
                .build()
                .unwrap()
        })
        .collect();
    // times[w][indexer][round], wall and CPU seconds
    let mut times = vec![vec![Vec::new(); INDEXERS.len()]; args.workers.len()];
    let mut cpu = times.clone();
    let mut stats = None;
    for round in 0..=args.rounds {
        for (wi, &w) in args.workers.iter().enumerate() {
            for k in 0..INDEXERS.len() {
                let which = INDEXERS[(k + round + wi) % INDEXERS.len()];
                if args.only.as_deref().is_some_and(|o| o != which.name()) {
                    continue;
                }
                let out = scratch.path().join(format!("{}-{w}-{round}", which.name()));
                std::fs::create_dir_all(&out).unwrap();
                let (start, cpu_start) = (Instant::now(), cpu_secs());
                let docs = match which {
                    Indexer::Job => {
                        let s = job(&args.dir, w, args.shards, &pools[wi], &out);
                        match stats {
                            None => stats = Some(s),
                            Some(first) => assert_eq!(s, first, "the job is deterministic"),
                        }
                        s.docs
                    }
                    Indexer::Plain => {
                        let p = pools[wi].install(|| plain::index(&args.dir, &out));
                        if let Some(s) = stats {
                            let job = (s.docs, s.terms, s.postings, s.bytes);
                            assert_eq!(
                                (p.docs, p.terms, p.postings, p.bytes),
                                job,
                                "the plain indexer must index what the job indexes"
                            );
                        }
                        p.docs
                    }
                    #[cfg(feature = "tantivy-bench")]
                    Indexer::Tantivy => tantivy_index::index(&args.dir, w, &out),
                };
                let secs = start.elapsed().as_secs_f64();
                let cpu_used = cpu_secs() - cpu_start;
                if let Some(s) = stats {
                    assert_eq!(
                        docs,
                        s.docs,
                        "{} indexed another set of files",
                        which.name()
                    );
                }
                std::fs::remove_dir_all(&out).unwrap();
                let at = INDEXERS.iter().position(|&i| i == which).unwrap_or(k);
                if round > 0 {
                    times[wi][at].push(secs);
                    cpu[wi][at].push(cpu_used);
                }
            }
        }
        eprint!(
            "{}",
            if round == 0 {
                "warm-up done; rounds:"
            } else {
                " ."
            }
        );
    }
    eprintln!();
    if args.only.is_some() {
        return;
    }
    let s = stats.expect("at least one job run");
    println!(
        "{}: {} documents, {:.1} MB of text, {} terms, {} postings; {} rounds after a warm-up, \
         order rotated each round",
        args.dir.display(),
        s.docs,
        s.bytes as f64 / 1e6,
        s.terms,
        s.postings,
        args.rounds
    );
    for (title, table) in [("wall", &times), ("cpu", &cpu)] {
        report(title, table, &args.workers, s.bytes);
    }
}

/// One table: per worker count, each indexer's median seconds (min-max) and the job's
/// ratio to each other indexer (median of the per-round ratios, min-max).
fn report(title: &str, times: &[Vec<Vec<f64>>], workers: &[usize], bytes: u64) {
    let span = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::MAX, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        (lo, hi)
    };
    println!("{title} time:");
    print!("{:>7}", "workers");
    for i in INDEXERS {
        print!("  {:>22}", format!("{} s (min-max)", i.name()));
    }
    print!("  {:>9}", "job MB/s");
    for i in &INDEXERS[1..] {
        print!("  {:>26}", format!("job/{} (min-max)", i.name()));
    }
    println!();
    for (wi, &w) in workers.iter().enumerate() {
        print!("{w:>7}");
        let t = &times[wi];
        for runs in t {
            let mut v = runs.clone();
            let (lo, hi) = span(&v);
            print!(
                "  {:>22}",
                format!("{:.3} ({lo:.3}-{hi:.3})", median(&mut v))
            );
        }
        let mut job_times = t[0].clone();
        print!("  {:>9.1}", bytes as f64 / 1e6 / median(&mut job_times));
        for other in &t[1..] {
            let mut ratios: Vec<f64> = t[0].iter().zip(other).map(|(j, o)| j / o).collect();
            let (lo, hi) = span(&ratios);
            print!(
                "  {:>26}",
                format!("{:.3} ({lo:.3}-{hi:.3})", median(&mut ratios))
            );
        }
        println!();
    }
}
