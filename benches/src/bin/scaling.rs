//! The scaling harness: every workload x every implementation x threads from 1 to the
//! core count and then doubling up to 4x oversubscribed (1, 2, 4, 8 on 2 cores),
//! interleaved round by round, medians reported, beside a control loop of pure
//! computation. Every answer is checked (`workload`); nothing asserts a speed.
//!
//! ```sh
//! cargo run -p snapstate-benches --release --bin scaling            # full run
//! cargo run -p snapstate-benches --release --bin scaling -- --quick # under a minute
//! ```
//!
//! The heap is kept warm (`stats::steady_heap`: freed memory is not returned to the
//! kernel) and the workers are long-lived (`pool`), so rounds after the first measure
//! the operations, not page faults.
//!
//! Options: `--quick`, `--rounds N`, `--ops N` (per thread per measurement),
//! `--threads 1,2,4,8`, `--out DIR` (default `target/scaling`). Writes
//! `DIR/scaling.md`, `DIR/scaling.json` and one plot per workload,
//! `DIR/scaling-<workload>.svg` (and `scaling-control.svg`), and prints the table.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use snapstate_benches::pool;
use snapstate_benches::report::{Cell, Results};
use snapstate_benches::workload::{self, Workload, NODES};
use snapstate_benches::{for_each_store, store_names, Store, StoreVisitor};

struct Opts {
    rounds: usize,
    ops: u64,
    threads: Vec<usize>,
    out: PathBuf,
    quick: bool,
}

/// 1 to the core count, then doubling up to four times the core count.
fn default_threads() -> Vec<usize> {
    let cores = snapstate_benches::machine::cpus();
    let mut t: Vec<usize> = (1..=cores).collect();
    let mut n = cores * 2;
    while n <= cores * 4 {
        t.push(n);
        n *= 2;
    }
    t
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        rounds: 11,
        ops: 200_000,
        threads: default_threads(),
        out: PathBuf::from("target/scaling"),
        quick: false,
    };
    let mut args = std::env::args().skip(1);
    let mut rounds = None;
    let mut ops = None;
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--rounds" => {
                rounds = Some(
                    val("--rounds")?
                        .parse()
                        .map_err(|e| format!("--rounds: {e}"))?,
                )
            }
            "--ops" => ops = Some(val("--ops")?.parse().map_err(|e| format!("--ops: {e}"))?),
            "--out" => o.out = PathBuf::from(val("--out")?),
            "--threads" => {
                let list = val("--threads")?;
                let mut t = list
                    .split(',')
                    .map(|x| match x.trim().parse::<usize>() {
                        Ok(n) if n > 0 => Ok(n),
                        _ => Err(format!("--threads: {x:?} is not a thread count (e.g. 1,2,4,8)")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                t.sort_unstable();
                t.dedup();
                o.threads = t;
            }
            // `cargo bench` passes `--bench` to every target; ignore it.
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument {other:?} (try --quick, --rounds N, --ops N, --threads 1,2,4,8, --out DIR)"
                ))
            }
        }
    }
    if o.quick {
        o.rounds = 3;
        o.ops = 20_000;
    }
    o.rounds = rounds.unwrap_or(o.rounds).max(1);
    o.ops = ops.unwrap_or(o.ops).max(100);
    Ok(o)
}

/// Runs `w` on a fresh prefilled `S` with `threads` pool workers; returns Mops/s.
fn measure<S: Store>(w: Workload, threads: usize, ops: u64) -> f64 {
    let secs = workload::measure::<S>(w, threads, NODES, ops);
    (threads as u64 * ops) as f64 / secs / 1e6
}

fn measure_control(threads: usize, ops: u64) -> f64 {
    let secs = pool::global().span(
        threads,
        Arc::new(move |t| {
            workload::control(t, ops);
        }),
    );
    (threads as u64 * ops) as f64 / secs / 1e6
}

struct Round<'a> {
    cells: &'a mut Vec<Cell>,
    w: Workload,
    threads: usize,
    ops: u64,
}

impl StoreVisitor for Round<'_> {
    fn visit<S: Store>(&mut self) {
        // The slowest baselines take ~50x longer per op; scale their op count so every
        // cell costs about the same wall time (throughput is per-op anyway).
        let ops = if matches!(S::NAME, "skiplist" | "cow-arcswap") {
            (self.ops / 8).max(100)
        } else {
            self.ops
        };
        let v = measure::<S>(self.w, self.threads, ops);
        push(self.cells, self.w.name(), S::NAME, self.threads, v);
    }
}

fn push(cells: &mut Vec<Cell>, w: &'static str, s: &'static str, t: usize, v: f64) {
    match cells
        .iter_mut()
        .find(|c| c.workload == w && c.store == s && c.threads == t)
    {
        Some(c) => c.mops.push(v),
        None => cells.push(Cell {
            workload: w,
            store: s,
            threads: t,
            mops: vec![v],
        }),
    }
}

fn main() {
    snapstate_benches::stats::steady_heap();
    let opts = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scaling: {e}");
            std::process::exit(2);
        }
    };
    let threads = opts.threads.clone();
    // Read before the measurements start, with the load average of that moment.
    let machine = snapstate_benches::machine::describe();
    let t_start = Instant::now();
    let mut cells = Vec::new();
    for round in 0..opts.rounds {
        for &t in &threads {
            let v = measure_control(t, opts.ops * 4);
            push(&mut cells, "control", "control", t, v);
            for w in Workload::ALL {
                for_each_store(&mut Round {
                    cells: &mut cells,
                    w,
                    threads: t,
                    ops: opts.ops,
                });
            }
        }
        eprintln!(
            "scaling: round {}/{} done at {:.1} s",
            round + 1,
            opts.rounds,
            t_start.elapsed().as_secs_f64()
        );
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let results = Results {
        threads,
        workloads: Workload::ALL.iter().map(|w| w.name()).collect(),
        stores: store_names(),
        cells,
        rounds: opts.rounds,
        ops_per_thread: opts.ops,
        machine,
        command: format!(
            "cargo run -p snapstate-benches --release --bin scaling{}{}",
            if args.is_empty() { "" } else { " -- " },
            args.join(" ")
        ),
    };
    let md = results.markdown();
    println!("{md}");
    let write = || -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
        std::fs::create_dir_all(&opts.out)?;
        std::fs::write(opts.out.join("scaling.md"), &md)?;
        std::fs::write(
            opts.out.join("scaling.json"),
            serde_json::to_string_pretty(&results.json())?,
        )?;
        results.svgs(&opts.out)
    };
    match write() {
        Ok(svgs) => eprintln!(
            "scaling: wrote {0}/scaling.md, {0}/scaling.json and {1} plots ({0}/scaling-*.svg) in {2:.1} s",
            opts.out.display(),
            svgs.len(),
            t_start.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!(
                "scaling: could not write outputs to {}: {e} (is the directory writable?)",
                opts.out.display()
            );
            std::process::exit(1);
        }
    }
}
