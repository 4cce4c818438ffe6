//! `snapstate coordinator` and `snapstate worker`: the distributed mode (feature
//! `distributed`), with the search index plugged into `snapstate-cluster` as a job kind.
//! See docs/distributed.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use snapstate_cluster::etcd::EtcdOptions;
use snapstate_cluster::{
    decode_outputs, run_coordinator, run_worker, CoordinatorOptions, JobKind, JobSpec, Log,
    OutputCheck, Plan, Runtime, WorkerOptions,
};
use snapstate_coordinator::Job;
use snapstate_search::{write_index, Corpus, IndexJob, InvertedIndex, ShardIndex};

use crate::cli::RunArgs;

/// The search index as a distributed job kind: rebuilt on each worker from the corpus
/// flags the coordinator was given.
#[derive(Debug)]
struct SearchIndex;

const KIND: &str = "snapstate-search-index";

/// What a worker needs to rebuild the corpus and the job.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    input: Option<PathBuf>,
    docs: u32,
    corpus_seed: u64,
    shards: u32,
    slow_ms: u64,
}

impl Params {
    fn of(args: &RunArgs) -> Self {
        Params {
            input: args.input.clone(),
            docs: args.docs,
            corpus_seed: args.corpus_seed,
            shards: args.shards,
            slow_ms: args.slow,
        }
    }

    fn corpus(&self) -> anyhow::Result<Corpus> {
        Ok(match &self.input {
            Some(dir) => Corpus::from_dir(dir, self.shards as usize)?,
            None => Corpus::generated(self.docs, self.shards as usize, self.corpus_seed),
        })
    }
}

impl JobKind for SearchIndex {
    type Job = IndexJob;

    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&self, params: &serde_json::Value) -> Result<IndexJob, String> {
        let p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        if p.shards == 0 || p.docs == 0 {
            return Err("docs and shards must be at least 1".into());
        }
        let corpus = p.corpus().map_err(|e| format!("{e:#}"))?;
        Ok(IndexJob::new(corpus).with_delay(Duration::from_millis(p.slow_ms)))
    }
}

/// Flags of the etcd connection, shared by both commands.
#[derive(Clone, Debug, Args)]
pub(crate) struct EtcdArgs {
    /// etcd client URLs, comma-separated (e.g. http://10.0.0.1:2379,http://10.0.0.2:2379).
    #[arg(
        long,
        value_name = "URL[,URL...]",
        value_delimiter = ',',
        required = true
    )]
    pub(crate) etcd: Vec<String>,

    /// The job's name in etcd: coordinators and workers of one job use the same.
    #[arg(long, value_name = "NAME")]
    pub(crate) job: String,

    /// Seconds to wait for etcd to answer before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) etcd_timeout: u64,
}

impl EtcdArgs {
    fn options(&self) -> EtcdOptions {
        EtcdOptions::default()
            .connect_timeout(Duration::from_secs(self.etcd_timeout))
            .op_timeout(Duration::from_millis(500))
    }
}

#[derive(Clone, Debug, Args)]
pub(crate) struct CoordinatorArgs {
    #[command(flatten)]
    pub(crate) etcd: EtcdArgs,

    /// Directory for the job's committed outputs (DIR/NAME/), readable by every
    /// coordinator of the job: local on one machine, a shared mount across machines.
    #[arg(long, value_name = "DIR")]
    pub(crate) store: PathBuf,

    /// Address the coordinator listens on for workers (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: SocketAddr,

    /// Address workers should use to reach this coordinator, if not the bound one
    /// (e.g. this machine's name on the network).
    #[arg(long, value_name = "HOST:PORT")]
    pub(crate) advertise: Option<String>,

    /// Serve Prometheus metrics on ADDR (GET /metrics).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<SocketAddr>,

    /// TTL in seconds of the leases of the coordinator and its workers: a process that
    /// stops renewing its lease for this long is taken for dead.
    #[arg(long, value_name = "SECS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) lease_ttl: u64,

    /// The largest encoded output of one shard a worker may send, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1..=(64 << 20)))]
    pub(crate) max_output: u64,

    /// The job's flags, as for `snapstate run` (--workers is the number of nodes).
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Clone, Debug, Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    pub(crate) etcd: EtcdArgs,

    /// This worker's name in logs (default: host:pid).
    #[arg(long, value_name = "NAME")]
    pub(crate) name: Option<String>,

    /// Seconds to wait for the job to appear in etcd before giving up.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub(crate) job_timeout: u64,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn coordinator(args: &CoordinatorArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    if args.run.checkpoint_dir.is_some() {
        bail!("--checkpoint-dir is for embedded runs; a distributed job keeps its state in --store and etcd");
    }
    if args.run.failure_rate.is_some_and(|r| r > 0.0) {
        bail!("--failure-rate injects faults into embedded runs; in a distributed job, fail real processes (kill a worker or a coordinator)");
    }
    let params = Params::of(&args.run);
    let corpus = params.corpus()?;
    let job = SearchIndex
        .build(&serde_json::to_value(&params)?)
        .map_err(anyhow::Error::msg)?;
    let ttl_ms = args.lease_ttl * 1000;
    let spec = JobSpec::new(
        &args.etcd.job,
        KIND,
        serde_json::to_value(&params)?,
        &job.identity().digest().to_string(),
        Plan::new(args.run.workers as usize, job.subtasks())?,
        Runtime {
            lease_ttl_ms: ttl_ms,
            heartbeat_ms: (ttl_ms / 5).clamp(20, 1000),
            stall_timeout_ms: args.run.stall_timeout.max(ttl_ms),
            max_output_bytes: args.max_output,
        },
    );
    let log = Log::new("coordinator", &args.etcd.job).quiet(args.run.quiet);
    log.say(format!(
        "job {}: indexing a {} into {} shards on {} nodes",
        args.etcd.job,
        corpus.identity(),
        job.subtasks(),
        args.run.workers
    ));
    let opts = CoordinatorOptions {
        etcd: args.etcd.etcd.clone(),
        etcd_options: args.etcd.options(),
        store: args.store.clone(),
        listen: args.listen,
        advertise: args.advertise.clone(),
        metrics: args.metrics,
        snapshot_every: Duration::from_millis(args.run.snapshot_every),
        lease_ttl: Duration::from_secs(args.lease_ttl),
        log: log.clone(),
        check_output: OutputCheck::decodes::<ShardIndex>(),
    };
    let outcome = runtime()?.block_on(run_coordinator(opts, spec))?;
    let shards: Vec<ShardIndex> = decode_outputs(&outcome.outputs)?;
    let index = InvertedIndex::merge(&corpus, shards);
    let written = write_index(&index, &args.run.out)?;
    let stats = index.stats();
    log.say(format!(
        "index of {} documents and {} terms written to {} (checksum {:016x}; {}; {} term(s) led; {:.1} s)",
        stats.docs,
        stats.terms,
        written.path.display(),
        written.checksum,
        if outcome.led_to_completion {
            "this coordinator led the job to completion"
        } else {
            "read back from the store"
        },
        outcome.terms,
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

pub(crate) fn worker(args: &WorkerArgs) -> anyhow::Result<()> {
    let name = args.name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "worker".into());
        format!("{host}:{}", std::process::id())
    });
    let opts = WorkerOptions {
        etcd: args.etcd.etcd.clone(),
        etcd_options: args.etcd.options(),
        job: args.etcd.job.clone(),
        name: name.clone(),
        job_timeout: Duration::from_secs(args.job_timeout),
        log: Log::new("worker", &name).quiet(args.quiet),
    };
    let out = runtime()?.block_on(run_worker(opts, SearchIndex))?;
    if !args.quiet {
        eprintln!(
            "snapstate worker [{name}]: done: {} claims ({} lost), {} shards run",
            out.claims, out.claims_lost, out.subtasks_run
        );
    }
    Ok(())
}
