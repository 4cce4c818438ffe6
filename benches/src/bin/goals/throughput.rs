//! Goals 1 and 2: the harness's workloads, measured with the harness's own code
//! (`workload::measure`, long-lived pool workers, fresh prefilled stores, every answer
//! checked), snapstate against node-locks (goal 1) and against the classic solution
//! behind `parking_lot::Mutex` (goal 2).

use serde_json::json;
use snapstate_benches::goal::{Row, Target};
use snapstate_benches::stats::{median, min_max};
use snapstate_benches::workload::{self, Workload, NODES};
use snapstate_benches::{NodeLocks, PlMutex, SnapState, Store};

use crate::Part;

/// The thread counts of goal 1 (8 is four threads per core on the 2-core machine).
pub(crate) const THREADS: [usize; 4] = [1, 2, 4, 8];

/// Million operations per second of `w` with `threads` workers of `ops` each.
fn mops<S: Store>(w: Workload, threads: usize, ops: u64) -> f64 {
    let secs = workload::measure::<S>(w, threads, NODES, ops);
    (threads as u64 * ops) as f64 / secs / 1e6
}

/// Nanoseconds per operation (the span over all the workers' operations).
fn ns<S: Store>(w: Workload, threads: usize, ops: u64) -> f64 {
    workload::measure::<S>(w, threads, NODES, ops) * 1e9 / (threads as u64 * ops) as f64
}

/// One goal-1 cell: a workload at a thread count, throughputs per round.
struct Cell {
    w: Workload,
    threads: usize,
    ours: Vec<f64>,
    base: Vec<f64>,
}

/// Goal 1: every workload at 1, 2, 4 and 8 threads against node-locks.
pub(crate) struct NodeLocksRows {
    ops: u64,
    cells: Vec<Cell>,
}

impl NodeLocksRows {
    pub(crate) fn new(quick: bool) -> Self {
        let cells = Workload::ALL
            .iter()
            .flat_map(|&w| {
                THREADS.iter().map(move |&threads| Cell {
                    w,
                    threads,
                    ours: Vec::new(),
                    base: Vec::new(),
                })
            })
            .collect();
        NodeLocksRows {
            ops: if quick { 20_000 } else { 200_000 },
            cells,
        }
    }
}

impl Part for NodeLocksRows {
    fn round(&mut self, r: usize) {
        for c in &mut self.cells {
            // Alternate who goes first, so neither side always runs on a cooler machine.
            if r.is_multiple_of(2) {
                c.ours.push(mops::<SnapState>(c.w, c.threads, self.ops));
                c.base.push(mops::<NodeLocks>(c.w, c.threads, self.ops));
            } else {
                c.base.push(mops::<NodeLocks>(c.w, c.threads, self.ops));
                c.ours.push(mops::<SnapState>(c.w, c.threads, self.ops));
            }
        }
    }

    fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .cells
            .iter()
            .map(|c| {
                Row::ratio(
                    &format!("g1.{}.t{}", c.w.name(), c.threads),
                    &format!(
                        "{}, {} thread{}: throughput vs node-locks",
                        c.w.name(),
                        c.threads,
                        if c.threads == 1 { "" } else { "s" }
                    ),
                    "Mops/s",
                    &c.ours,
                    "node-locks",
                    &c.base,
                    Target::AtLeast(1.0),
                )
            })
            .collect();
        let figures: Vec<f64> = rows.iter().map(|r| r.figure).collect();
        if let Some(worst) = rows.iter().min_by(|a, b| a.figure.total_cmp(&b.figure)) {
            let worst = Row::derived(
                "g1.worst",
                &format!(
                    "worst of the {} goal-1 cells ({}): throughput vs node-locks",
                    rows.len(),
                    worst.id
                ),
                worst.figure,
                worst.spread,
                Target::AtLeast(1.0),
                json!({ "cell": worst.id, "cells": figures }),
            );
            // The spread of the median cell: the median over cells within each round.
            let rounds = self.cells.first().map_or(0, |c| c.ours.len());
            let per_round: Vec<f64> = (0..rounds)
                .map(|r| {
                    let v: Vec<f64> = self.cells.iter().map(|c| c.ours[r] / c.base[r]).collect();
                    median(&v)
                })
                .collect();
            let median_row = Row::derived(
                "g1.median",
                &format!(
                    "median of the {} goal-1 cells: throughput vs node-locks",
                    rows.len()
                ),
                median(&figures),
                min_max(&per_round),
                Target::AtLeast(1.5),
                json!({ "cells": figures, "per_round_median": per_round }),
            );
            rows.push(worst);
            rows.push(median_row);
        }
        rows
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "Goal 1 (`g1.*`): the scaling harness's workloads (`workload::measure`: a fresh store \
             of {NODES} nodes prefilled with 64 snapshots, 100 warm-up operations per thread, then \
             {} operations per thread on long-lived pool threads, every answer checked); \
             throughput = operations / span from the first worker's start to the last one's \
             end. snapstate and node-locks alternate first place from round to round.",
            self.ops
        )]
    }
}

/// Goal 2: `set_state` against the classic solution behind `parking_lot::Mutex`.
pub(crate) struct MutexRows {
    ops: u64,
    one: (Vec<f64>, Vec<f64>),
    two: (Vec<f64>, Vec<f64>),
}

impl MutexRows {
    pub(crate) fn new(quick: bool) -> Self {
        MutexRows {
            ops: if quick { 1 << 18 } else { 1 << 20 },
            one: (Vec::new(), Vec::new()),
            two: (Vec::new(), Vec::new()),
        }
    }
}

impl Part for MutexRows {
    fn round(&mut self, r: usize) {
        let w = Workload::SetDistinct;
        for (threads, (ours, base)) in [(1, &mut self.one), (2, &mut self.two)] {
            if r.is_multiple_of(2) {
                ours.push(ns::<SnapState>(w, threads, self.ops));
                base.push(ns::<PlMutex>(w, threads, self.ops));
            } else {
                base.push(ns::<PlMutex>(w, threads, self.ops));
                ours.push(ns::<SnapState>(w, threads, self.ops));
            }
        }
    }

    fn rows(&self) -> Vec<Row> {
        vec![
            Row::ratio(
                "g2.set-1t",
                "set_state, 1 thread, 1024 nodes, a snap every 100 sets (set-distinct): time per op vs pl-mutex classic",
                "ns",
                &self.one.0,
                "pl-mutex",
                &self.one.1,
                Target::AtMost(0.5),
            ),
            Row::ratio(
                "g2.set-2t",
                "set_state, 2 threads on distinct nodes, a snap every 100 sets (set-distinct): time per op vs pl-mutex classic",
                "ns",
                &self.two.0,
                "pl-mutex",
                &self.two.1,
                Target::AtMost(0.25),
            ),
        ]
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "Goal 2 (`g2.*`): the harness's set-distinct workload, {} operations per thread; \
             time per op = span / all threads' operations.",
            self.ops
        )]
    }
}
