//! The memory benchmark and goal 5: resident memory after 1e6 and 1e7 sets and bytes
//! per retained version, for snapstate and the baselines; and resident memory of a
//! snapstate array kept small by compaction over a long run (flat, or not).
//!
//! ```sh
//! cargo run -p snapstate-benches --release --bin memory            # 1e6 and 1e7 sets, 2e7 under compaction
//! cargo run -p snapstate-benches --release --bin memory -- --quick # 1e5 and 1e6 sets, 2e6 under compaction
//! cargo run -p snapstate-benches --release --bin memory -- --json  # JSON instead of the tables
//! ```
//!
//! Options: `--quick`, `--json`, `--out DIR` (writes `DIR/memory.md` and
//! `DIR/memory.json` as well).
//!
//! Each measurement runs in a child process of its own (this binary with `--child`), so
//! no implementation inherits another's freed heap.
//!
//! - *Bytes per version*: the child reads its resident set (`/proc/self/statm`) before
//!   building the store and after `N` sets: 1024 nodes set round-robin with a `snap()`
//!   after every 1024 sets, so every set leaves one version that a later reader may
//!   still ask for. Bytes per retained version is the growth divided by `N`. The three
//!   global-lock baselines share one data structure (the classic solution), so
//!   `classic` stands for all of them.
//! - *Under compaction*: the same writing pattern on a snapstate array for a long run
//!   while only the last 16 snapshots are kept, with a heap that never returns memory
//!   to the kernel (`stats::steady_heap`, so resident memory is the heap's high-water
//!   mark and any leak shows). The child samples its resident set after every tenth of
//!   the run; the figure is the growth from the first tenth to the end, per set.
//!
//! Every child checks what it reads back; a wrong answer fails the run.

use serde_json::{json, Value};
use snapstate::{Error, SnapshotArray, SnapshotId};
use snapstate_benches::child;
use snapstate_benches::goal::{num, Report, Row, Target};
use snapstate_benches::stats::{resident_bytes, steady_heap};
use snapstate_benches::workload::NODES;
use snapstate_benches::{Classic, CowArcSwap, NodeLocks, SkipList, SnapState, Store};

const NAMES: [&str; 5] = [
    "snapstate",
    "classic",
    "node-locks",
    "skiplist",
    "cow-arcswap",
];

/// Snapshots kept readable under compaction.
const KEEP: u64 = 16;

/// The writing pattern: node `k % NODES` set to `k`, a snap after every `NODES` sets.
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

/// The value node `i` holds in snapshot `s` after [`fill`] (`s` a full round of sets).
fn filled_value(s: u64, i: usize) -> u64 {
    s * NODES as u64 + i as u64
}

/// `--child fill NAME N`: resident memory before building and after `N` sets.
fn child_fill(name: &str, n: u64) -> Result<Value, String> {
    let rss = || resident_bytes().ok_or("cannot read /proc/self/statm");
    let before = rss()?;
    // Check a full snapshot in the middle of the history (read after the resident set).
    let mid = (n / NODES as u64 / 2).saturating_sub(1);
    fn check<S: Store>(s: &S, mid: u64, n: u64) -> Result<(), String> {
        if n < NODES as u64 {
            return Ok(());
        }
        for i in 0..NODES {
            let v = s.fetch_state(i, mid);
            if v != filled_value(mid, i) {
                return Err(format!(
                    "{}: node {i} in snapshot {mid} reads {v}, not {}",
                    S::NAME,
                    filled_value(mid, i)
                ));
            }
        }
        Ok(())
    }
    let (after, checked) = match name {
        "snapstate" => {
            let s = fill::<SnapState>(n);
            (rss()?, check(&s, mid, n))
        }
        "classic" => {
            let c = fill_classic(n);
            let after = rss()?;
            let ok = (0..NODES).try_for_each(|i| match c.fetch(i, mid) {
                v if n < NODES as u64 || v == filled_value(mid, i) => Ok(()),
                v => Err(format!("classic: node {i} in snapshot {mid} reads {v}")),
            });
            (after, ok)
        }
        "node-locks" => {
            let s = fill::<NodeLocks>(n);
            (rss()?, check(&s, mid, n))
        }
        "skiplist" => {
            let s = fill::<SkipList>(n);
            (rss()?, check(&s, mid, n))
        }
        "cow-arcswap" => {
            let s = fill::<CowArcSwap>(n);
            (rss()?, check(&s, mid, n))
        }
        other => {
            return Err(format!(
                "unknown implementation {other:?} (one of {NAMES:?})"
            ))
        }
    };
    checked?;
    Ok(json!({ "before": before, "after": after }))
}

/// `--child flat MODE N`: `N` sets under compaction (`compact`: this thread calls
/// `compact` every `KEEP` snaps; `retain`: `Builder::retain_last(KEEP)` and its
/// background compactor), the resident set after each tenth.
fn child_flat(mode: &str, n: u64) -> Result<Value, String> {
    steady_heap();
    let array: SnapshotArray<u64> = match mode {
        "compact" => SnapshotArray::new(NODES),
        "retain" => SnapshotArray::builder()
            .len(NODES)
            .retain_last(KEEP)
            .build(),
        other => return Err(format!("unknown mode {other:?} (compact or retain)")),
    };
    let mut rss = Vec::new();
    let tenth = (n / 10).max(1);
    let mut last = None;
    for k in 0..n {
        array
            .set_state((k % NODES as u64) as usize, k)
            .map_err(|e| e.to_string())?;
        if k % NODES as u64 == NODES as u64 - 1 {
            let s = array.snap();
            if mode == "compact" && s.get() % KEEP == KEEP - 1 {
                let before = SnapshotId::from(s.get() + 1 - KEEP);
                let floor = array.compact(before).map_err(|e| e.to_string())?;
                if floor != before {
                    return Err(format!("compact({before}) left the floor at {floor}"));
                }
            }
            last = Some(s);
        }
        if (k + 1) % tenth == 0 {
            rss.push(resident_bytes().ok_or("cannot read /proc/self/statm")?);
        }
    }
    let last = last.ok_or("the run took no snapshot: N must be at least 1024")?;
    for i in 0..NODES {
        let v = array.fetch_state(i, last).map_err(|e| e.to_string())?;
        if v != filled_value(last.get(), i) {
            return Err(format!(
                "node {i} in snapshot {last} reads {v}, not {}",
                filled_value(last.get(), i)
            ));
        }
    }
    if mode == "compact" && last.get() >= 2 * KEEP {
        match array.fetch_state(0, SnapshotId::from(0)) {
            Err(Error::Compacted { .. }) => {}
            other => {
                return Err(format!(
                    "snapshot 0 after compaction: {other:?}, not Compacted"
                ))
            }
        }
    }
    let stats = array.stats();
    Ok(json!({ "rss": rss, "sets": n, "versions_held": stats.versions, "bytes_held": stats.bytes }))
}

fn child(args: &[String]) -> Result<Value, String> {
    let n = |s: Option<&String>| -> Result<u64, String> {
        s.ok_or("missing N")?.parse().map_err(|e| format!("N: {e}"))
    };
    match (args.first().map(String::as_str), args.get(1)) {
        (Some("fill"), Some(name)) => child_fill(name, n(args.get(2))?),
        (Some("flat"), Some(mode)) => child_flat(mode, n(args.get(2))?),
        _ => Err("usage: memory --child fill NAME N | --child flat compact|retain N".into()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        match child(&args[1..]) {
            Ok(v) => println!("{v}"),
            Err(e) => {
                eprintln!("memory child: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let (mut quick, mut as_json, mut out) = (false, false, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--json" => as_json = true,
            "--out" => match it.next() {
                Some(d) => out = Some(std::path::PathBuf::from(d)),
                None => fail("--out needs a directory"),
            },
            "--bench" => {}
            other => fail(&format!(
                "unknown argument {other:?} (try --quick, --json, --out DIR)"
            )),
        }
    }
    let sizes: [u64; 2] = if quick {
        [100_000, 1_000_000]
    } else {
        [1_000_000, 10_000_000]
    };
    let flat_sets: u64 = if quick { 2_000_000 } else { 20_000_000 };
    let command = format!(
        "cargo run -p snapstate-benches --release --bin memory{}{}",
        if args.is_empty() { "" } else { " -- " },
        args.join(" ")
    );
    let mut report = Report::new("Memory (goal 5)", &command);

    // Bytes per retained version, every implementation.
    let mut table = String::from("| implementation |");
    for n in sizes {
        table.push_str(&format!(
            " RSS growth after {n:.0e} sets | bytes/version @{n:.0e} |"
        ));
    }
    table.push_str(&format!("\n|---|{}\n", "---|".repeat(2 * sizes.len())));
    let mut per_version: Vec<(&str, Vec<f64>)> = Vec::new();
    for name in NAMES {
        let mut cols = Vec::new();
        let mut bpv = Vec::new();
        for &n in &sizes {
            let v = child::run(&["fill", name, &n.to_string()]).unwrap_or_else(|e| fail(&e));
            let grew = (field(&v, "after") - field(&v, "before")).max(0.0);
            cols.push(format!("{:.1} MiB", grew / (1 << 20) as f64));
            cols.push(format!("{:.1}", grew / n as f64));
            bpv.push(grew / n as f64);
        }
        eprintln!("memory: {name} done");
        table.push_str(&format!("| {name} | {} |\n", cols.join(" | ")));
        per_version.push((name, bpv));
    }
    let of = |name: &str| {
        &per_version
            .iter()
            .find(|p| p.0 == name)
            .expect("measured")
            .1
    };
    for (k, &n) in sizes.iter().enumerate() {
        // Below a million versions the fixed costs (the node table, first segments)
        // dominate; the goal is about long histories.
        let goal = n >= 1_000_000;
        report.rows.push(Row::value(
            &format!("g5.bytes-per-version.{}", short(n)),
            &format!(
                "resident bytes per retained u64 version after {} sets (1024 nodes, a snap every 1024 sets){}",
                num(n as f64),
                if goal { "" } else { " (context: fixed costs dominate this small a history)" }
            ),
            "B",
            &[of("snapstate")[k]],
            Some(("classic", &[of("classic")[k]])),
            if goal { Target::AtMost(16.0) } else { Target::None },
        ));
    }

    // Resident memory under compaction.
    let mut flat = Vec::new();
    for mode in ["compact", "retain"] {
        let v = child::run(&["flat", mode, &flat_sets.to_string()]).unwrap_or_else(|e| fail(&e));
        let rss: Vec<f64> = v["rss"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let (first, end) = match (rss.first(), rss.last()) {
            (Some(&f), Some(&e)) if rss.len() >= 2 => (f, e),
            _ => fail(&format!("flat {mode}: too few samples in {v}")),
        };
        let per_set = (end - first).max(0.0) / (flat_sets as f64 * 0.9);
        eprintln!("memory: under compaction ({mode}) done");
        flat.push((mode, per_set, rss, v));
    }
    let uncompacted = of("snapstate")[1];
    for (mode, per_set, rss, v) in &flat {
        let mib: Vec<String> = rss
            .iter()
            .map(|b| format!("{:.1}", b / (1 << 20) as f64))
            .collect();
        let (what, target) = match *mode {
            "compact" => (
                format!("resident memory under compaction (the writer calls compact every {KEEP} snaps, keeping {KEEP}): growth per set after the first tenth of {} sets; RSS by tenths, MiB: {}", num(flat_sets as f64), mib.join(" ")),
                Target::AtMost(0.1),
            ),
            _ => (
                format!("the same with Builder::retain_last({KEEP}) and its background compactor (context: bounded only as well as that thread is scheduled); RSS by tenths, MiB: {}", mib.join(" ")),
                Target::None,
            ),
        };
        let mut row = Row::value(
            &format!("g5.flat.{mode}"),
            &what,
            "B/set",
            &[*per_set],
            Some(("no compaction", &[uncompacted])),
            target,
        );
        row.samples = json!({ "rss": rss, "child": v });
        report.rows.push(row);
    }
    report.notes.push(format!(
        "Bytes per version: one child process per cell (`memory --child fill NAME N`), resident \
         set growth (`/proc/self/statm`) from before the store is built to after the sets; \
         one run per cell, so the spread is a single value. Under compaction: `memory --child \
         flat MODE {flat_sets}`, a heap that never returns memory; the baseline column is \
         snapstate's own growth per set without compaction (the @{:.0e} cell above). \
         Targets: <= 16 B per version; flat read as <= 0.1 B of growth per set.",
        sizes[1]
    ));
    let md = format!(
        "{}\n**Resident memory per retained version, every implementation:**\n\n{table}",
        report.markdown()
    );
    let mut doc = report.json();
    doc["implementations"] = json!(per_version
        .iter()
        .map(|(n, b)| json!({ "implementation": n, "sizes": sizes, "bytes_per_version": b }))
        .collect::<Vec<_>>());
    let json_text = serde_json::to_string_pretty(&doc).expect("a report is valid JSON");
    println!("{}", if as_json { &json_text } else { &md });
    if let Some(dir) = out {
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("memory.md"), &md)?;
            std::fs::write(dir.join("memory.json"), &json_text)
        };
        if let Err(e) = write() {
            fail(&format!(
                "cannot write to {}: {e} (is the directory writable?)",
                dir.display()
            ));
        }
        eprintln!(
            "memory: wrote {0}/memory.md and {0}/memory.json",
            dir.display()
        );
    }
}

fn short(n: u64) -> String {
    format!("1e{}", (n as f64).log10().round())
}

fn field(v: &Value, key: &str) -> f64 {
    child::field(v, key).unwrap_or_else(|e| fail(&e))
}

fn fail(msg: &str) -> ! {
    eprintln!("memory: {msg}");
    std::process::exit(1);
}
