//! Every goal of issue 10 as measured figures: each a ratio of snapstate to a baseline
//! measured in the same run (medians of interleaved rounds, with the spread over the
//! rounds), or a value where the issue names one, each with its target and whether it
//! is met. Every row has an id to grep for (`g1.read-heavy.t4`, `g7.fill`, ...).
//!
//! ```sh
//! cargo run -p snapstate-benches --release --bin goals                 # 21 rounds, 10M nodes for goal 7
//! cargo run -p snapstate-benches --release --bin goals -- --quick      # seconds (CI)
//! cargo run -p snapstate-benches --release --bin goals -- --only 1,3   # goals 1 and 3 only
//! cargo run -p snapstate-benches --release --bin goals -- --json       # JSON instead of the table
//! ```
//!
//! Options: `--quick`, `--rounds N`, `--only LIST` (goal numbers: 1,2,3,4,6,7,8),
//! `--large-nodes N` and `--large-rounds N` (goal 7), `--json`, `--out DIR` (writes
//! `DIR/goals.md` and `DIR/goals.json` as well). Goal 5 (memory per version, memory
//! under compaction) is measured by the `memory` binary (ids `g5.*`).
//!
//! Every goal checks its answers (a wrong one panics); none asserts a speed.

mod arrays;
mod large;
mod latency;
mod reads;
mod snaps;
mod throughput;

use std::path::PathBuf;
use std::time::Instant;

use snapstate_benches::goal::{Report, Row};

/// One goal's measurements: a step per interleaved round, then whatever runs once.
trait Part {
    /// One round of measurements (`r` counts from 0; sides alternate by its parity).
    fn round(&mut self, r: usize);
    /// Measurements that run once after the rounds (child processes).
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// The rows for the report.
    fn rows(&self) -> Vec<Row>;
    /// How it was measured, for the report's notes.
    fn notes(&self) -> Vec<String>;
}

struct Opts {
    quick: bool,
    rounds: usize,
    only: Vec<u32>,
    large_nodes: usize,
    large_rounds: usize,
    json: bool,
    out: Option<PathBuf>,
    args: Vec<String>,
}

const GOALS: [u32; 7] = [1, 2, 3, 4, 6, 7, 8];

fn parse() -> Result<Opts, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        quick: false,
        rounds: 0,
        only: GOALS.to_vec(),
        large_nodes: 0,
        large_rounds: 0,
        json: false,
        out: None,
        args: args.clone(),
    };
    let (mut rounds, mut large_nodes, mut large_rounds) = (None, None, None);
    let mut it = args.into_iter();
    let num = |name: &str, v: Option<String>| -> Result<usize, String> {
        v.ok_or(format!("{name} needs a value"))?
            .parse()
            .map_err(|e| format!("{name}: {e}"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--json" => o.json = true,
            "--rounds" => rounds = Some(num("--rounds", it.next())?),
            "--large-nodes" => large_nodes = Some(num("--large-nodes", it.next())?),
            "--large-rounds" => large_rounds = Some(num("--large-rounds", it.next())?),
            "--out" => o.out = Some(PathBuf::from(it.next().ok_or("--out needs a directory")?)),
            "--only" => {
                let list = it
                    .next()
                    .ok_or("--only needs a list of goal numbers, e.g. 1,3")?;
                o.only = list
                    .split(',')
                    .map(|g| {
                        let g = g.trim().trim_start_matches('g');
                        match g.parse::<u32>() {
                            Ok(n) if GOALS.contains(&n) => Ok(n),
                            Ok(5) => Err("goal 5 is measured by the memory binary".to_string()),
                            _ => Err(format!(
                                "--only: {g:?} is not a goal number (1,2,3,4,6,7,8)"
                            )),
                        }
                    })
                    .collect::<Result<_, _>>()?;
            }
            // `cargo bench` passes `--bench` to every target; ignore it.
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument {other:?} (try --quick, --rounds N, --only 1,3, \
                     --large-nodes N, --large-rounds N, --json, --out DIR)"
                ))
            }
        }
    }
    o.rounds = rounds.unwrap_or(if o.quick { 3 } else { 21 }).max(1);
    o.large_nodes = large_nodes
        .unwrap_or(if o.quick { 200_000 } else { 10_000_000 })
        .max(1);
    o.large_rounds = large_rounds.unwrap_or(if o.quick { 2 } else { 5 }).max(1);
    Ok(o)
}

/// `goals --child KIND ARGS...`: one measurement in a fresh process; prints one JSON line.
fn child(args: &[String]) -> ! {
    let result = match args.first().map(String::as_str) {
        Some("large") => large::child(&args[1..]),
        Some("cycles") => arrays::child(&args[1..]),
        _ => Err("usage: goals --child large|cycles ARGS".to_string()),
    };
    match result {
        Ok(v) => {
            println!("{v}");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("goals child: {e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.first().map(String::as_str) == Some("--child") {
        child(&raw[1..]);
    }
    let opts = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("goals: {e}");
            std::process::exit(2);
        }
    };
    snapstate_benches::stats::steady_heap();
    let command = format!(
        "cargo run -p snapstate-benches --release --bin goals{}{}",
        if opts.args.is_empty() { "" } else { " -- " },
        opts.args.join(" ")
    );
    // The machine line (with the load average) is read before the measurements start.
    let mut report = Report::new("Goals of issue 10", &command);
    let t0 = Instant::now();
    let on = |g: u32| opts.only.contains(&g);
    let mut parts: Vec<Box<dyn Part>> = Vec::new();
    if on(1) {
        parts.push(Box::new(throughput::NodeLocksRows::new(opts.quick)));
    }
    if on(2) {
        parts.push(Box::new(throughput::MutexRows::new(opts.quick)));
    }
    if on(3) {
        parts.push(Box::new(reads::Reads::new(opts.quick)));
    }
    if on(4) {
        parts.push(Box::new(snaps::Snaps::new(opts.quick)));
    }
    if on(6) {
        parts.push(Box::new(arrays::Arrays::new(opts.quick)));
    }
    if on(7) {
        parts.push(Box::new(large::Large::new(
            opts.large_nodes,
            opts.large_rounds,
        )));
    }
    if on(8) {
        parts.push(Box::new(latency::Latency::new(opts.quick)));
    }
    for r in 0..opts.rounds {
        for p in &mut parts {
            p.round(r);
        }
        eprintln!(
            "goals: round {}/{} at {:.1} s",
            r + 1,
            opts.rounds,
            t0.elapsed().as_secs_f64()
        );
    }
    for p in &mut parts {
        if let Err(e) = p.finish() {
            eprintln!("goals: {e}");
            std::process::exit(1);
        }
    }
    report.notes.push(format!(
        "{} interleaved rounds (the goals take turns within each round). `snapstate` and \
         `baseline` are medians over the rounds; `figure` is the median of the per-round \
         ratios (ours / baseline, both measured in that round) or, where the issue names a \
         value, the median value; `spread` is the smallest and largest per-round figure. \
         The machine is shared with other engineers' work: compare ratios, not absolute \
         numbers. Took {:.0} s.",
        opts.rounds,
        t0.elapsed().as_secs_f64()
    ));
    for p in &parts {
        report.notes.extend(p.notes());
        report.rows.extend(p.rows());
    }
    report.notes.push(
        "Goal 5 (`g5.*`: bytes per retained u64 version, resident memory under compaction) \
         is measured by `cargo run -p snapstate-benches --release --bin memory`."
            .into(),
    );
    let md = report.markdown();
    let json = serde_json::to_string_pretty(&report.json()).expect("a report is valid JSON");
    if opts.json {
        println!("{json}");
    } else {
        println!("{md}");
    }
    if let Some(dir) = &opts.out {
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join("goals.md"), &md)?;
            std::fs::write(dir.join("goals.json"), &json)
        };
        if let Err(e) = write() {
            eprintln!(
                "goals: cannot write to {}: {e} (is the directory writable?)",
                dir.display()
            );
            std::process::exit(1);
        }
        eprintln!(
            "goals: wrote {0}/goals.md and {0}/goals.json",
            dir.display()
        );
    }
}
