//! Goal 7: a large array. `N` nodes (10 million), each written once, then `snap()` and
//! a whole-snapshot read, beside the classic `Vec<Vec<(u32, u64)>>` doing the same.
//!
//! Each side runs in a fresh child process of this binary (`goals --child large SIDE
//! N`), with the allocator's default settings, so neither inherits the other's heap:
//! resident memory is the growth of `/proc/self/statm`'s resident set from before the
//! array is built to after the fill and the `snap()` (the whole-snapshot read's result,
//! 8 bytes a node on both sides, comes after). The peak (`VmHWM`) is reported beside it.

use std::time::Instant;

use serde_json::{json, Value};
use snapstate::SnapshotArray;
use snapstate_benches::child;
use snapstate_benches::goal::{num, Row, Target};
use snapstate_benches::stats::{peak_resident_bytes, resident_bytes};
use snapstate_benches::Classic;

use crate::Part;

/// The two sides, in the order of even rounds.
const SIDES: [&str; 2] = ["snapstate", "classic"];

/// The child side: builds `n` nodes, writes each once (`i + 1`), snaps, reads the whole
/// snapshot and checks it.
pub(crate) fn child(args: &[String]) -> Result<Value, String> {
    let (side, n) = match args {
        [side, n] => (
            side.as_str(),
            n.parse::<usize>().map_err(|e| format!("N: {e}"))?,
        ),
        _ => return Err("usage: --child large snapstate|classic N".into()),
    };
    let rss = || resident_bytes().ok_or("cannot read /proc/self/statm");
    let before = rss()?;
    let t0 = Instant::now();
    let (built, filled, rss_filled, fetch, all) = match side {
        "snapstate" => {
            let a = SnapshotArray::<u64>::new(n);
            let built = t0.elapsed();
            for i in 0..n {
                a.set_state(i, i as u64 + 1).map_err(|e| e.to_string())?;
            }
            let s = a.snap();
            let filled = t0.elapsed();
            let rss_filled = rss()?;
            let t1 = Instant::now();
            let all = a.fetch_all(s).map_err(|e| e.to_string())?;
            (built, filled, rss_filled, t1.elapsed(), all)
        }
        "classic" => {
            let mut c = Classic::new(n);
            let built = t0.elapsed();
            for i in 0..n {
                c.set(i, i as u64 + 1);
            }
            let s = c.snap();
            let filled = t0.elapsed();
            let rss_filled = rss()?;
            let t1 = Instant::now();
            let all: Vec<u64> = (0..n).map(|i| c.fetch(i, s)).collect();
            (built, filled, rss_filled, t1.elapsed(), all)
        }
        other => return Err(format!("unknown side {other:?} (snapstate or classic)")),
    };
    if all.len() != n {
        return Err(format!(
            "{side}: the whole-snapshot read has {} nodes, not {n}",
            all.len()
        ));
    }
    if let Some((i, v)) = all.iter().enumerate().find(|&(i, &v)| v != i as u64 + 1) {
        return Err(format!(
            "{side}: node {i} reads {v} in the snapshot, not {}",
            i + 1
        ));
    }
    Ok(json!({
        "side": side,
        "nodes": n,
        "rss_before": before,
        "rss_filled": rss_filled,
        "rss_peak": peak_resident_bytes(),
        "build_s": built.as_secs_f64(),
        "fill_s": filled.as_secs_f64(),
        "fetch_all_s": fetch.as_secs_f64(),
    }))
}

#[derive(Default)]
struct Side {
    rss_per_node: Vec<f64>,
    peak_per_node: Vec<f64>,
    fill_ms: Vec<f64>,
    fetch_ms: Vec<f64>,
}

/// Goal 7's measurements (all in [`Part::finish`]: a few rounds of child processes).
pub(crate) struct Large {
    nodes: usize,
    rounds: usize,
    sides: [Side; 2],
}

impl Large {
    pub(crate) fn new(nodes: usize, rounds: usize) -> Self {
        Large {
            nodes,
            rounds,
            sides: Default::default(),
        }
    }
}

impl Part for Large {
    fn round(&mut self, _r: usize) {}

    fn finish(&mut self) -> Result<(), String> {
        let n = self.nodes as f64;
        for r in 0..self.rounds {
            for k in 0..2 {
                let k = (k + r) % 2;
                let v = child::run(&["large", SIDES[k], &self.nodes.to_string()])?;
                let f = |key| child::field(&v, key);
                let s = &mut self.sides[k];
                s.rss_per_node
                    .push((f("rss_filled")? - f("rss_before")?) / n);
                s.peak_per_node
                    .push((f("rss_peak")? - f("rss_before")?) / n);
                s.fill_ms.push(f("fill_s")? * 1e3);
                s.fetch_ms.push(f("fetch_all_s")? * 1e3);
            }
            eprintln!("goals: g7 round {}/{} done", r + 1, self.rounds);
        }
        Ok(())
    }

    fn rows(&self) -> Vec<Row> {
        let [o, b] = &self.sides;
        if o.fill_ms.is_empty() {
            return Vec::new();
        }
        let n = num(self.nodes as f64);
        vec![
            Row::ratio(
                "g7.rss",
                &format!("{n} nodes each written once, then snap(): resident memory per node vs the classic"),
                "B/node",
                &o.rss_per_node,
                "classic",
                &b.rss_per_node,
                Target::AtMost(0.5),
            ),
            Row::ratio(
                "g7.fill",
                &format!("build {n} nodes, write each once, snap(): time vs the classic"),
                "ms",
                &o.fill_ms,
                "classic",
                &b.fill_ms,
                Target::AtMost(1.0),
            ),
            Row::ratio(
                "g7.fetch-all",
                &format!("fetch_all of that snapshot ({n} nodes): time vs the classic's loop of binary searches"),
                "ms",
                &o.fetch_ms,
                "classic",
                &b.fetch_ms,
                Target::AtMost(1.0),
            ),
            Row::ratio(
                "g7.peak-rss",
                "peak resident memory per node (VmHWM, includes the 8 B/node read result on both sides; context)",
                "B/node",
                &o.peak_per_node,
                "classic",
                &b.peak_per_node,
                Target::None,
            ),
        ]
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "Goal 7 (`g7.*`): {} nodes, {} rounds; each side in a fresh child process \
             (`goals --child large SIDE N`, default allocator settings), the sides alternating \
             first place; resident memory per node = growth of the resident set \
             (`/proc/self/statm`) from before the array is built to after the fill and \
             `snap()`, divided by the nodes; fill time includes building the array. The \
             read's result is checked node by node.",
            num(self.nodes as f64),
            self.rounds
        )]
    }
}
