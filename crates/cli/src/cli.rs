//! The command line, declared with clap: every flag carries its own help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Builds a search index over a corpus with fault-tolerant workers, and answers queries
/// from it.
///
/// Shards of the corpus are dealt to worker threads; each worker reports its progress
/// (shards done) into a lock-free snapshot array, and the coordinator snapshots it
/// periodically. A shard's output counts only once a snapshot covers it. On the generated
/// corpus a few failures are injected on purpose (panics, silent exits, stalls): a failed
/// worker is replaced by one that resumes from its node's last snapshot, and the index
/// comes out byte-identical to a failure-free run.
#[derive(Debug, Parser)]
#[command(
    name = "snapstate",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  snapstate                              build the default index (generated corpus)\n  snapstate --input ~/notes --workers 2  index your own text files (no injected failures)\n  snapstate query pi li                  documents containing both terms\n  snapstate --checkpoint-dir ckpt        survive a kill or Ctrl-C: run again to resume"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Build the index (what runs when no command is given).
    Run(RunArgs),
    /// Look terms up in an index built earlier: documents containing all of them.
    Query(QueryArgs),
    /// Distributed mode: coordinate a job through etcd (one leader, the rest standbys);
    /// the leader writes the index to -o once workers have done every shard.
    #[cfg(feature = "distributed")]
    Coordinator(Box<crate::distributed::CoordinatorArgs>),
    /// Distributed mode: work on a job found in etcd, on this machine, until it is done.
    #[cfg(feature = "distributed")]
    Worker(Box<crate::distributed::WorkerArgs>),
}

#[derive(Clone, Debug, Args)]
pub(crate) struct RunArgs {
    /// Index the text files under DIR instead of the generated corpus. DIR is walked as
    /// ripgrep walks it: hidden files and files matched by .gitignore/.ignore are left
    /// out, links are followed (each file indexed once), binary files are detected and
    /// left out; the checkpoint and output directories are never indexed.
    #[arg(short, long, value_name = "DIR")]
    pub(crate) input: Option<PathBuf>,

    /// With --input: index only files matching GLOB (gitignore syntax, relative to DIR;
    /// repeat for more); a GLOB starting with '!' leaves matching paths out.
    #[arg(short, long = "glob", value_name = "GLOB")]
    pub(crate) globs: Vec<String>,

    /// With --input: include hidden files and directories (names starting with '.').
    #[arg(long)]
    pub(crate) hidden: bool,

    /// With --input: disregard .gitignore, .ignore and .git/info/exclude files.
    #[arg(long)]
    pub(crate) no_ignore: bool,

    /// With --input: stop with an error at a file that cannot be read (unreadable,
    /// deleted during the run, a dangling or looping link) instead of skipping it with
    /// a warning.
    #[arg(long)]
    pub(crate) strict: bool,

    /// Name every file left out of the index, with its reason (on stderr; in the JSON
    /// summary as skipped_files).
    #[arg(short, long)]
    pub(crate) verbose: bool,

    /// Documents in the generated corpus (ignored with --input).
    #[arg(long, value_name = "N", default_value_t = 40_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub(crate) docs: u32,

    /// Seed of the generated corpus: the same seed gives the same documents.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) corpus_seed: u64,

    /// Shards the corpus is split into; each is one subtask (at most one per file with
    /// --input).
    #[arg(short, long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) shards: u32,

    /// Worker nodes (threads) running the shards.
    #[arg(short, long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) workers: u32,

    /// Directory the index is written to (as DIR/index.snapidx, replaced atomically).
    #[arg(short, long, value_name = "DIR", default_value = "snapstate-index")]
    pub(crate) out: PathBuf,

    /// Persist progress snapshots and committed shard outputs in DIR; if DIR already
    /// holds a checkpoint of the same job, resume from it (e.g. after a kill).
    #[arg(long, value_name = "DIR")]
    pub(crate) checkpoint_dir: Option<PathBuf>,

    /// Probability that a shard run fails on purpose (a panic, a silent exit or a stall,
    /// in equal parts); 0 turns fault injection off. Default: 0.02 on the generated
    /// corpus, 0 with --input.
    #[arg(long, value_name = "P", value_parser = parse_rate)]
    pub(crate) failure_rate: Option<f64>,

    /// Most failures injected in one run, however many shards (a failure costs time: a
    /// stall costs --stall-timeout).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) max_injected: usize,

    /// Seed of fault injection: the same seed strikes the same shard attempts.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub(crate) fault_seed: u64,

    /// Milliseconds between progress snapshots; a failed worker loses at most this much work.
    #[arg(long, value_name = "MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub(crate) snapshot_every: u64,

    /// Milliseconds without a heartbeat after which a worker counts as stalled and is
    /// replaced. Workers beat per document and per MB read, so a slow shard is never
    /// stalled; only a hung worker is.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub(crate) stall_timeout: u64,

    /// Failures of one shard after which the job gives up.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) max_failures: u32,

    /// Extra milliseconds per shard, to simulate slow storage (a longer run to watch, or
    /// to kill and resume).
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub(crate) slow: u64,

    /// Print nothing but errors (no progress, no summary).
    #[arg(short, long)]
    pub(crate) quiet: bool,

    /// How to show progress on stderr: bars (on a terminal), plain lines every few
    /// seconds (the default when stderr is not a terminal), or none.
    #[arg(long, value_name = "HOW", value_enum, default_value_t = ProgressMode::Auto)]
    pub(crate) progress: ProgressMode,

    /// Print a JSON summary on stdout (the human summary moves to stderr); on an error,
    /// `{"ok": false, "error": ...}`.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--progress`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ProgressMode {
    /// Bars on a terminal, plain lines otherwise.
    Auto,
    /// Progress bars.
    Bars,
    /// A plain line every few seconds.
    Plain,
    /// Nothing but failures and the summary.
    None,
}

#[derive(Clone, Debug, Args)]
pub(crate) struct QueryArgs {
    /// Terms to look up (lowercased and split like the corpus); a document must contain all.
    #[arg(value_name = "TERM", required = true)]
    pub(crate) terms: Vec<String>,

    /// The index: the --out directory of the build, or its index.snapidx file.
    #[arg(long, value_name = "PATH", default_value = "snapstate-index")]
    pub(crate) index: PathBuf,

    /// Most documents to list (0: only count them).
    #[arg(short = 'n', long, value_name = "N", default_value_t = 10)]
    pub(crate) limit: usize,

    /// Print the answer as JSON (with the total hit count when -n cuts the list).
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("'{s}' is not a number"))?;
    if (0.0..=snapstate_coordinator::FaultPlan::MAX_RATE).contains(&p) {
        Ok(p)
    } else {
        Err(format!(
            "must be between 0 and {} (got {s})",
            snapstate_coordinator::FaultPlan::MAX_RATE
        ))
    }
}
