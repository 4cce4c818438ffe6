//! The memory benchmark: resident memory after 1e6 and 1e7 sets, and bytes per
//! retained version, for snapstate and the baselines.
//!
//! ```sh
//! cargo run -p snapstate-benches --release --bin memory            # 1e6 and 1e7 sets
//! cargo run -p snapstate-benches --release --bin memory -- --quick # 1e5 and 1e6 sets
//! ```
//!
//! Each measurement runs in a child process of its own (this binary with `--child`), so
//! no implementation inherits another's freed heap. The child reads its resident set
//! (`/proc/self/statm`) before building the store and after `N` sets: 1024 nodes set
//! round-robin with a `snap()` after every 1024 sets, so every set leaves one version
//! that every later snapshot-reader may still ask for. Bytes per retained version is
//! the growth of the resident set divided by `N`.
//!
//! The three global-lock baselines share one data structure (the classic solution), so
//! `classic` stands for all of them.

use std::process::Command;

use snapstate_benches::stats::resident_bytes;
use snapstate_benches::workload::NODES;
use snapstate_benches::{Classic, CowArcSwap, NodeLocks, SkipList, SnapState, Store};

const NAMES: [&str; 5] = [
    "snapstate",
    "classic",
    "node-locks",
    "skiplist",
    "cow-arcswap",
];

fn fill<S: Store>(n: u64) -> S {
    let s = S::new(NODES);
    for k in 0..n {
        s.set_state((k % NODES as u64) as usize, k);
        if k % NODES as u64 == NODES as u64 - 1 {
            s.snap();
        }
    }
    s
}

fn fill_classic(n: u64) -> Classic {
    let mut c = Classic::new(NODES);
    for k in 0..n {
        c.set((k % NODES as u64) as usize, k);
        if k % NODES as u64 == NODES as u64 - 1 {
            c.snap();
        }
    }
    c
}

/// Runs in the child: prints `before after` resident bytes.
fn child(name: &str, n: u64) -> Result<(), String> {
    let before = resident_bytes().ok_or("cannot read /proc/self/statm")?;
    let keep: Box<dyn std::any::Any> = match name {
        "snapstate" => Box::new(fill::<SnapState>(n)),
        "classic" => Box::new(fill_classic(n)),
        "node-locks" => Box::new(fill::<NodeLocks>(n)),
        "skiplist" => Box::new(fill::<SkipList>(n)),
        "cow-arcswap" => Box::new(fill::<CowArcSwap>(n)),
        other => return Err(format!("unknown implementation {other:?}")),
    };
    let after = resident_bytes().ok_or("cannot read /proc/self/statm")?;
    std::hint::black_box(&keep);
    println!("{before} {after}");
    Ok(())
}

fn run_child(name: &str, n: u64) -> Result<(u64, u64), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args(["--child", name, &n.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "child {name} {n} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(str::parse::<u64>);
    match (it.next(), it.next()) {
        (Some(Ok(b)), Some(Ok(a))) => Ok((b, a)),
        _ => Err(format!("child {name} {n} printed {text:?}")),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let (Some(name), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse().ok())) else {
            eprintln!("memory: --child NAME N");
            std::process::exit(2);
        };
        if let Err(e) = child(name, n) {
            eprintln!("memory: {e}");
            std::process::exit(1);
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let sizes: [u64; 2] = if quick {
        [100_000, 1_000_000]
    } else {
        [1_000_000, 10_000_000]
    };
    println!(
        "Command: `cargo run -p snapstate-benches --release --bin memory{}`  ",
        if quick { " -- --quick" } else { "" }
    );
    println!(
        "1024 nodes set round-robin, a snap() after every 1024 sets: every set is a retained version. \
         Resident memory growth from before the store was built (/proc/self/statm), one child process per cell.\n"
    );
    let header: Vec<String> = sizes
        .iter()
        .flat_map(|n| {
            [
                format!("RSS growth after {n:.0e} sets"),
                format!("bytes/version @{n:.0e}"),
            ]
        })
        .collect();
    println!("| implementation | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(header.len()));
    for name in NAMES {
        let mut cols = Vec::new();
        for &n in &sizes {
            match run_child(name, n) {
                Ok((before, after)) => {
                    let grew = after.saturating_sub(before);
                    cols.push(format!("{:.1} MiB", grew as f64 / (1 << 20) as f64));
                    cols.push(format!("{:.1}", grew as f64 / n as f64));
                }
                Err(e) => {
                    eprintln!("memory: {e}");
                    std::process::exit(1);
                }
            }
        }
        println!("| {name} | {} |", cols.join(" | "));
    }
}
