//! `snapstate`: build a search index with fault-tolerant workers, and query it.
//!
//! Run `snapstate --help` for the flags; the crate docs of `snapstate-coordinator` explain
//! how the coordinator works, those of `snapstate-search` the index.

mod cli;
#[cfg(feature = "distributed")]
mod distributed;
mod query;
mod summary;
mod ui;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use clap::Parser;
use snapstate_coordinator::{
    CheckpointDir, CheckpointDirError, Coordinator, CoordinatorConfig, CoordinatorError,
    FailureCause, FaultPlan, InjectedPanic,
};
use snapstate_search::{
    skip_counts, write_index, Corpus, IndexJob, InvertedIndex, Skipped, WalkOptions, INDEX_FILE,
};

use cli::{Cli, Command, RunArgs};
use summary::Summary;
use ui::Ui;

/// The default `--failure-rate` on the generated corpus (with `--input` it is 0).
const DEMO_FAILURE_RATE: f64 = 0.02;

/// Exit code of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells do).
const INTERRUPTED: u8 = 130;

/// The run was interrupted; what to tell the user is already printed.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
struct Interrupted;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // Injected panics are part of the show and are reported as events; keep their default
    // "thread panicked" message off the progress bars. Real panics still print.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<InjectedPanic>().is_none() {
            default_hook(info);
        }
    }));
    let json = match &cli.command {
        Some(Command::Query(q)) => q.json,
        Some(Command::Run(r)) => r.json,
        #[cfg(feature = "distributed")]
        Some(Command::Coordinator(_) | Command::Worker(_)) => false,
        None => cli.run.json,
    };
    let result = match cli.command {
        Some(Command::Query(args)) => query::query(&args),
        Some(Command::Run(args)) => run(&args),
        #[cfg(feature = "distributed")]
        Some(Command::Coordinator(args)) => distributed::coordinator(&args),
        #[cfg(feature = "distributed")]
        Some(Command::Worker(args)) => distributed::worker(&args),
        None => run(&cli.run),
    };
    let Err(error) = result else {
        return ExitCode::SUCCESS;
    };
    if is_broken_pipe(&error) {
        // The reader went away (`snapstate query ... | head`): end quietly, as ripgrep does.
        return ExitCode::SUCCESS;
    }
    if json {
        let line = serde_json::json!({"ok": false, "error": format!("{error:#}")});
        // If stdout is gone too, stderr still says it.
        let _ = writeln!(io::stdout(), "{line}");
    }
    if error.is::<Interrupted>() {
        return ExitCode::from(INTERRUPTED);
    }
    // `{:#}` prints the whole chain of causes, each after a colon.
    eprintln!("snapstate: error: {error:#}");
    ExitCode::FAILURE
}

/// Whether the error is a write to a closed pipe.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Prints clap's error as one line (plus its tip, if it has one); help and version go
/// through untouched.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        // Printing help fails only if stdout is gone.
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().map(str::trim);
    let first = lines.find(|l| !l.is_empty()).unwrap_or("invalid arguments");
    let mut first = first.strip_prefix("error: ").unwrap_or(first).to_owned();
    // "the following required arguments were not provided:" lists them on the next
    // lines, up to a blank one.
    if first.ends_with(':') {
        let named: Vec<_> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
        first = format!("{first} {}", named.join(", "));
    }
    let tip = lines
        .find_map(|l| l.strip_prefix("tip: "))
        .map(|t| format!("; {t}"))
        .unwrap_or_default();
    eprintln!("snapstate: error: {first}{tip} (see snapstate --help)");
    ExitCode::from(2)
}

/// Checks before any work that `--out` is (or can become) a writable directory.
fn check_out(out: &Path) -> anyhow::Result<()> {
    let fix = "give a directory: the index is written to DIR/index.snapidx";
    if out.exists() && !out.is_dir() {
        bail!("--out {} is not a directory; {fix}", out.display());
    }
    // The nearest directory that exists is where writing starts.
    let mut probe: PathBuf = out.to_owned();
    while !probe.exists() {
        match probe.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe = p.to_owned(),
            _ => {
                probe = PathBuf::from(".");
                break;
            }
        }
    }
    if !probe.is_dir() {
        bail!(
            "--out {}: {} is not a directory; {fix}",
            out.display(),
            probe.display()
        );
    }
    tempfile::tempfile_in(&probe).with_context(|| {
        format!(
            "--out {}: cannot write in {}; choose a directory you can write to",
            out.display(),
            probe.display()
        )
    })?;
    Ok(())
}

/// Explains a refused checkpoint directory in the program's terms.
fn checkpoint_hint(e: &CheckpointDirError) -> Option<String> {
    let CheckpointDirError::DifferentJob { differences, .. } = e else {
        return None;
    };
    let about = |key: &str| {
        differences
            .iter()
            .any(|d| d.starts_with(&format!("{key}:")))
    };
    let flags: Vec<&str> = [
        ("shards", "--shards"),
        ("workers", "--workers"),
        ("docs", "--docs"),
        ("corpus seed", "--corpus-seed"),
        ("input", "--input"),
    ]
    .into_iter()
    .filter(|(key, _)| about(key))
    .map(|(_, flag)| flag)
    .collect();
    if !flags.is_empty() {
        Some(format!(
            "this run's {} differs from the checkpoint's: rerun with the flags it was written with to resume",
            flags.join(", ")
        ))
    } else if about("files") || about("file names") || about("shard bounds") {
        Some(
            "the files under --input changed since the checkpoint was written (added, removed, renamed, or resized so that shards moved), so it cannot be resumed; start over with a new --checkpoint-dir"
                .to_owned(),
        )
    } else {
        None
    }
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    check_out(&args.out)?;
    // Opened (and locked) before the input is walked, so a bad one is reported at once.
    let checkpoint = match &args.checkpoint_dir {
        Some(dir) => Some(CheckpointDir::open(dir)?),
        None => None,
    };
    let corpus = match &args.input {
        Some(dir) => Corpus::from_dir_with(dir, args.shards as usize, &walk_options(args))?,
        None => Corpus::generated(args.docs, args.shards as usize, args.corpus_seed),
    };
    let failure_rate = args.failure_rate.unwrap_or(if args.input.is_some() {
        0.0
    } else {
        DEMO_FAILURE_RATE
    });
    let faults = FaultPlan::new(args.fault_seed, failure_rate)
        .ok_or_else(|| {
            anyhow!(
                "--failure-rate must be between 0 and {}",
                FaultPlan::MAX_RATE
            )
        })?
        .with_limit(args.max_injected);
    let snapshot_every = Duration::from_millis(args.snapshot_every);
    let mut config = CoordinatorConfig::new(args.workers as usize)?
        .snapshot_interval(snapshot_every)
        .stall_timeout(Duration::from_millis(args.stall_timeout))
        .max_failures(args.max_failures)
        .faults(faults);
    if let Some(dir) = &checkpoint {
        config = config.checkpoint(dir.clone());
    }
    let ui = Arc::new(Ui::new(args.quiet, args.progress));
    if !args.quiet {
        eprintln!(
            "snapstate: indexing a {} with {} workers; injected failure rate {failure_rate}",
            corpus.identity(),
            args.workers,
        );
    }
    let job = IndexJob::new(corpus.clone()).with_delay(Duration::from_millis(args.slow));
    let coordinator = Coordinator::new(job, config);
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let handle = coordinator.handle();
        let interrupted = Arc::clone(&interrupted);
        ctrlc::set_handler(move || {
            // Relaxed: a flag the main thread reads after the run; the stop request itself
            // travels through the coordinator's channel.
            if interrupted.swap(true, Ordering::Relaxed) {
                // A second Ctrl-C: the user does not want to wait.
                std::process::exit(i32::from(INTERRUPTED));
            }
            handle.stop();
        })
        .context("cannot install the Ctrl-C handler")?;
    }
    let outcome = coordinator.run(ui.clone());
    ui.finish();
    // Relaxed: see the handler.
    if interrupted.load(Ordering::Relaxed) {
        let saved = match &args.checkpoint_dir {
            Some(dir) => format!(
                "progress is saved in {}: rerun the same command to resume",
                dir.display()
            ),
            None => "nothing was saved (with --checkpoint-dir a rerun resumes)".to_owned(),
        };
        if !args.quiet {
            eprintln!("snapstate: interrupted; {saved}");
        }
        return Err(Interrupted.into());
    }
    let run = outcome.map_err(|e| match e {
        CoordinatorError::GaveUp {
            last: FailureCause::Stalled(_),
            ..
        } => anyhow!(
            "{e}; a worker that sends no heartbeat for --stall-timeout is taken for hung: raise it if the machine is overloaded"
        ),
        CoordinatorError::Checkpoint(c) => match checkpoint_hint(&c) {
            // `DifferentJob` has no source: the message is the whole story.
            Some(hint) => anyhow!("{c}; {hint}"),
            None => c.into(),
        },
        e => e.into(),
    })?;
    ui.phase(&format!(
        "all {} shards committed; merging them into {}",
        run.outputs.len(),
        args.out.join(INDEX_FILE).display()
    ));
    // The merge and the write use as many threads as there are workers.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.workers as usize)
        .build()
        .context("cannot start the merging threads")?;
    let index = pool.install(|| InvertedIndex::merge(&corpus, run.outputs));
    let written = pool.install(|| write_index(&index, &args.out))?;
    if !args.quiet {
        warn_skipped(index.skipped(), args.verbose);
    }
    let skipped = skip_counts(index.skipped())
        .into_iter()
        .map(|(reason, n)| (reason.as_str(), n))
        .collect();
    let summary = Summary {
        corpus: corpus.description(),
        input: args.input.as_deref(),
        skipped: &skipped,
        skipped_files: args.verbose.then_some(index.skipped()),
        failure_rate,
        fault_seed: args.fault_seed,
        max_injected: args.max_injected,
        failures: ui.failure_events(),
        run: &run.stats,
        index: index.stats(),
        written: &written,
        snapshot_every,
        checkpoint_dir: args.checkpoint_dir.as_deref(),
        sample_term: index.most_common_term(),
        total: started.elapsed(),
    };
    // The lock is held until the index is written.
    drop(checkpoint);
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", summary.json())?;
        if !args.quiet {
            eprint!("{}", summary.text());
        }
    } else if !args.quiet {
        write!(out, "{}", summary.text())?;
    }
    out.flush()?;
    Ok(())
}

/// How `--input` is walked: the flags, and never the run's own directories.
fn walk_options(args: &RunArgs) -> WalkOptions {
    let mut walk = WalkOptions::new()
        .hidden(args.hidden)
        .no_ignore(args.no_ignore)
        .strict(args.strict)
        .threads(args.workers as usize)
        .exclude(&args.out);
    if let Some(dir) = &args.checkpoint_dir {
        walk = walk.exclude(dir);
    }
    for glob in &args.globs {
        walk = walk.glob(glob);
    }
    walk
}

/// Warns on stderr about the files left out because of a problem (names every file
/// left out, with `--verbose`).
fn warn_skipped(skipped: &[Skipped], verbose: bool) {
    const SHOWN: usize = 10;
    if verbose {
        for s in skipped {
            eprintln!("snapstate: skipped {s}");
        }
        return;
    }
    let problems: Vec<&Skipped> = skipped.iter().filter(|s| s.reason.is_problem()).collect();
    for s in problems.iter().take(SHOWN) {
        eprintln!("snapstate: warning: skipped {s}");
    }
    if problems.len() > SHOWN {
        eprintln!(
            "snapstate: warning: and {} more (--verbose names them)",
            problems.len() - SHOWN
        );
    }
    if !problems.is_empty() {
        eprintln!("snapstate: warning: --strict makes a file that cannot be read an error");
    }
}
