//! `snapstate`: build a search index with fault-tolerant workers, and query it.
//!
//! Run `snapstate --help` for the flags; the crate docs of `snapstate-coordinator` explain
//! how the coordinator works, those of `snapstate-search` the index.

mod cli;
mod summary;
mod ui;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use clap::Parser;
use snapstate_coordinator::{
    Coordinator, CoordinatorConfig, CoordinatorError, FailureCause, FaultPlan, InjectedPanic,
};
use snapstate_search::{
    write_index, Corpus, IndexFile, IndexJob, InvertedIndex, Skipped, WalkOptions, INDEX_FILE,
};

use cli::{Cli, Command, QueryArgs, RunArgs};
use summary::{thousands, Summary};
use ui::Ui;

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
    let result = match cli.command {
        Some(Command::Query(args)) => query(&args),
        Some(Command::Run(args)) => run(&args),
        None => run(&cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole chain of causes, each after a colon.
            eprintln!("snapstate: error: {error:#}");
            ExitCode::FAILURE
        }
    }
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
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let tip = lines
        .find_map(|l| l.strip_prefix("tip: "))
        .map(|t| format!("; {t}"))
        .unwrap_or_default();
    eprintln!("snapstate: error: {first}{tip} (see snapstate --help)");
    ExitCode::from(2)
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let corpus = match &args.input {
        Some(dir) => Corpus::from_dir_with(dir, args.shards as usize, &walk_options(args))?,
        None => Corpus::generated(args.docs, args.shards as usize, args.corpus_seed),
    };
    let faults = FaultPlan::new(args.fault_seed, args.failure_rate).ok_or_else(|| {
        anyhow!(
            "--failure-rate must be between 0 and {}",
            FaultPlan::MAX_RATE
        )
    })?;
    let snapshot_every = Duration::from_millis(args.snapshot_every);
    let mut config = CoordinatorConfig::new(args.workers as usize)?
        .snapshot_interval(snapshot_every)
        .stall_timeout(Duration::from_millis(args.stall_timeout))
        .max_failures(args.max_failures)
        .faults(faults);
    if let Some(dir) = &args.checkpoint_dir {
        config = config.checkpoint_dir(dir);
    }
    let ui = Arc::new(Ui::new(args.quiet));
    if !args.quiet {
        eprintln!(
            "snapstate: indexing a {} with {} workers; injected failure rate {}",
            corpus.identity(),
            args.workers,
            args.failure_rate
        );
    }
    let job = IndexJob::new(corpus.clone()).with_delay(Duration::from_millis(args.slow));
    let outcome = Coordinator::new(job, config).run(ui.clone());
    ui.finish();
    let run = outcome.map_err(|e| match e {
        CoordinatorError::GaveUp {
            last: FailureCause::Stalled(_),
            ..
        } => anyhow!("{e}; if its shards are just slow, raise --stall-timeout"),
        e => e.into(),
    })?;
    if !args.quiet {
        eprintln!(
            "all {} shards committed; merging them into {}",
            run.outputs.len(),
            args.out.join(INDEX_FILE).display()
        );
    }
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
    let summary = Summary {
        corpus: corpus.description(),
        run: &run.stats,
        index: index.stats(),
        written: &written,
        snapshot_every,
        checkpoint_dir: args.checkpoint_dir.as_deref(),
        sample_term: index.most_common_term(),
        skipped: index.skipped(),
        verbose: args.verbose,
        total: started.elapsed(),
    };
    if args.json {
        println!("{}", summary.json());
        if !args.quiet {
            eprint!("{}", summary.text());
        }
    } else if !args.quiet {
        print!("{}", summary.text());
    }
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

/// Warns about files left out because of a problem (every file left out, with
/// `--verbose`), on stderr.
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

fn query(args: &QueryArgs) -> anyhow::Result<()> {
    let index = IndexFile::open(&args.index)?;
    let text = args.terms.join(" ");
    let result = index
        .query(&text, args.limit)
        .with_context(|| format!("cannot answer {text:?}"))?;
    if result.terms.is_empty() {
        bail!("no searchable term in {text:?} (terms are letters and digits)");
    }
    if args.json {
        let hits: Vec<_> = result
            .hits
            .iter()
            .map(|h| serde_json::json!({"doc": h.doc, "name": h.name, "counts": h.counts}))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "terms": result.terms,
                "doc_freqs": result.doc_freqs,
                "hits": hits,
                "index_checksum": format!("{:016x}", index.checksum()),
            })
        );
        return Ok(());
    }
    for (t, n) in result.terms.iter().zip(&result.doc_freqs) {
        println!("{t:?}: in {} documents", thousands(*n as u64));
    }
    if result.terms.len() > 1 {
        println!(
            "all {} terms: showing up to {}",
            result.terms.len(),
            args.limit
        );
    }
    if result.hits.is_empty() {
        println!(
            "no document contains {}",
            if result.terms.len() > 1 {
                "all of them"
            } else {
                "it"
            }
        );
    }
    for h in &result.hits {
        let counts: Vec<_> = result
            .terms
            .iter()
            .zip(&h.counts)
            .map(|(t, c)| format!("{t}×{c}"))
            .collect();
        println!("  {:>8}  {}  ({})", h.doc, h.name, counts.join(", "));
    }
    Ok(())
}
