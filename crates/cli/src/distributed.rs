//! `snapstate coordinator` and `snapstate worker`: the distributed mode (feature
//! `distributed`), with the search index plugged into `snapstate-cluster` as a job kind.
//! See docs/distributed.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use snapstate_cluster::etcd::EtcdOptions;
use snapstate_cluster::net::Transport;
use snapstate_cluster::tls::{Tls, TlsFiles};
use snapstate_cluster::{
    confine, decode_outputs, run_coordinator, run_worker, CoordinatorOptions, JobKind, JobSpec,
    Log, OutputCheck, Plan, Runtime, TransportKind, WorkerOptions,
};
use snapstate_coordinator::Job;
use snapstate_search::{write_index, Corpus, IndexJob, InvertedIndex, ShardIndex};

use crate::cli::RunArgs;

/// The search index as a distributed job kind: rebuilt on each worker from the corpus
/// flags the coordinator was given. On a worker, `roots` are the only directories an
/// input named by the spec may lie in (`--input-root`); the coordinator (`None`)
/// builds from its own flags.
#[derive(Debug)]
struct SearchIndex {
    roots: Option<Vec<PathBuf>>,
}

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
        let mut p: Params = serde_json::from_value(params.clone()).map_err(|e| e.to_string())?;
        // The bounds of the coordinator's own flags (crates/cli/src/cli.rs): a spec from
        // etcd gets no more than a command line could ask for.
        if !(1..=10_000_000).contains(&p.docs) || !(1..=1_000_000).contains(&p.shards) {
            return Err(format!(
                "docs must be 1 to 10000000 and shards 1 to 1000000 (got {} and {})",
                p.docs, p.shards
            ));
        }
        if p.slow_ms > 60_000 {
            return Err(format!("slow_ms must be at most 60000 (got {})", p.slow_ms));
        }
        if let (Some(roots), Some(input)) = (&self.roots, &p.input) {
            p.input = Some(confine(input, roots)?);
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

    /// CA certificate (PEM) of etcd's https:// URLs (default: --tls-ca's, with
    /// --tls-cert and --tls-key as the client certificate).
    #[arg(long, value_name = "FILE")]
    pub(crate) etcd_ca: Option<PathBuf>,

    /// Client certificate (PEM) for etcd's --client-cert-auth (needs --etcd-key).
    #[arg(long, value_name = "FILE", requires_all = ["etcd_ca", "etcd_key"])]
    pub(crate) etcd_cert: Option<PathBuf>,

    /// Private key (PEM) of --etcd-cert.
    #[arg(long, value_name = "FILE", requires_all = ["etcd_ca", "etcd_cert"])]
    pub(crate) etcd_key: Option<PathBuf>,

    /// etcd user to authenticate as (etcd's `auth enable`); the password is read from
    /// the environment variable SNAPSTATE_ETCD_PASSWORD, never from the command line.
    #[arg(long, value_name = "NAME")]
    pub(crate) etcd_user: Option<String>,

    #[command(flatten)]
    pub(crate) tls: TlsArgs,
}

/// Mutual TLS between workers and coordinators.
#[derive(Clone, Debug, Args)]
pub(crate) struct TlsArgs {
    /// The job's CA certificate (PEM). With --tls-cert and --tls-key: mutual TLS on
    /// every gRPC connection and the metrics endpoint, peers must hold a certificate
    /// of this CA. Without them, every endpoint stays on loopback.
    #[arg(long, value_name = "FILE", requires_all = ["tls_cert", "tls_key"])]
    pub(crate) tls_ca: Option<PathBuf>,

    /// This process's certificate (PEM), signed by --tls-ca.
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_key"])]
    pub(crate) tls_cert: Option<PathBuf>,

    /// This process's private key (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["tls_ca", "tls_cert"])]
    pub(crate) tls_key: Option<PathBuf>,
}

impl EtcdArgs {
    /// The transport between workers and coordinators.
    fn transport(&self) -> anyhow::Result<Transport> {
        let t = &self.tls;
        Ok(match (&t.tls_ca, &t.tls_cert, &t.tls_key) {
            (Some(ca), Some(cert), Some(key)) => Transport::MutualTls(Tls::load(&TlsFiles {
                ca: ca.clone(),
                cert: cert.clone(),
                key: key.clone(),
            })?),
            _ => Transport::Loopback,
        })
    }

    fn options(&self, transport: &Transport) -> anyhow::Result<EtcdOptions> {
        let mut o = EtcdOptions::default()
            .connect_timeout(Duration::from_secs(self.etcd_timeout))
            .op_timeout(Duration::from_millis(500));
        let https = self.etcd.iter().any(|u| u.starts_with("https://"));
        if let Some(ca) = &self.etcd_ca {
            let read = |p: &PathBuf, flag: &str| {
                std::fs::read(p).with_context(|| format!("cannot read {flag} {}", p.display()))
            };
            let mut tls = snapstate_cluster::etcd::TlsOptions::new().ca_certificate(
                snapstate_cluster::etcd::Certificate::from_pem(read(ca, "--etcd-ca")?),
            );
            if let (Some(cert), Some(key)) = (&self.etcd_cert, &self.etcd_key) {
                tls = tls.identity(snapstate_cluster::etcd::Identity::from_pem(
                    read(cert, "--etcd-cert")?,
                    read(key, "--etcd-key")?,
                ));
            }
            o = o.tls_options(tls);
        } else if let (true, Some(tls)) = (https, transport.tls()) {
            o = o.tls(tls);
        }
        if let Some(user) = &self.etcd_user {
            let password = std::env::var("SNAPSTATE_ETCD_PASSWORD").map_err(|_| {
                anyhow::anyhow!(
                    "--etcd-user {user} needs its password in the environment variable \
                     SNAPSTATE_ETCD_PASSWORD"
                )
            })?;
            o = o.user(user.clone(), password);
        }
        o.check_endpoints(&self.etcd)?;
        Ok(o)
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

    /// A directory the job's input may lie in (repeatable). A worker reads an input
    /// the job spec names only if it is under one of these, links resolved.
    #[arg(long, value_name = "DIR")]
    pub(crate) input_root: Vec<PathBuf>,

    /// Print nothing but errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,

    /// Test only: ignore this worker's own fencing and send a late report after every
    /// reconnect (the partition test's zombie).
    #[cfg(feature = "distributed-tests")]
    #[arg(long, hide = true)]
    pub(crate) test_zombie: bool,
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
    let transport = args.etcd.transport()?;
    let etcd_options = args.etcd.options(&transport)?;
    // Refuse plaintext on a network before any work (the corpus can take a while).
    snapstate_cluster::net::check_listen(args.listen, "--listen", &transport)?;
    if let Some(m) = args.metrics {
        snapstate_cluster::net::check_listen(m, "--metrics", &transport)?;
    }
    if let Some(a) = &args.advertise {
        snapstate_cluster::net::check_peer(a, "--advertise", &transport)?;
    }
    let mut params = Params::of(&args.run);
    // The spec names the input by absolute path: workers check it against their roots.
    if let Some(input) = &params.input {
        params.input = Some(
            std::fs::canonicalize(input)
                .with_context(|| format!("cannot open --input {}", input.display()))?,
        );
    }
    let corpus = params.corpus()?;
    let job = SearchIndex { roots: None }
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
    )
    .with_transport(match transport {
        Transport::Loopback => TransportKind::Loopback,
        Transport::MutualTls(_) => TransportKind::MutualTls,
    });
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
        etcd_options,
        store: args.store.clone(),
        listen: args.listen,
        advertise: args.advertise.clone(),
        metrics: args.metrics,
        snapshot_every: Duration::from_millis(args.run.snapshot_every),
        lease_ttl: Duration::from_secs(args.lease_ttl),
        log: log.clone(),
        check_output: OutputCheck::decodes::<ShardIndex>(),
        transport,
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
    let transport = args.etcd.transport()?;
    let opts = WorkerOptions {
        etcd: args.etcd.etcd.clone(),
        etcd_options: args.etcd.options(&transport)?,
        job: args.etcd.job.clone(),
        name: name.clone(),
        job_timeout: Duration::from_secs(args.job_timeout),
        log: Log::new("worker", &name).quiet(args.quiet),
        transport,
        #[cfg(feature = "distributed-tests")]
        zombie: args.test_zombie,
    };
    let kind = SearchIndex {
        roots: Some(args.input_root.clone()),
    };
    let out = runtime()?.block_on(run_worker(opts, kind))?;
    if !args.quiet {
        eprintln!(
            "snapstate worker [{name}]: done: {} claims ({} lost), {} shards run",
            out.claims, out.claims_lost, out.subtasks_run
        );
    }
    Ok(())
}
