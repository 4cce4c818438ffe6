//! The scaling harness's outputs: a markdown table, a JSON document and an SVG plot.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use serde_json::json;

use crate::stats::median;

/// Throughput samples (million operations per second), one per round, for one
/// (workload, implementation, threads) cell. The control loop uses workload `control`.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Workload name.
    pub workload: &'static str,
    /// Implementation name (`control` for the control loop).
    pub store: &'static str,
    /// Thread count.
    pub threads: usize,
    /// One throughput per round, in Mops/s.
    pub mops: Vec<f64>,
}

impl Cell {
    /// The median throughput.
    pub fn median(&self) -> f64 {
        median(&self.mops)
    }
}

/// Everything one harness run measured.
#[derive(Debug, Clone)]
pub struct Results {
    /// The thread counts, ascending.
    pub threads: Vec<usize>,
    /// Workload names, in table order.
    pub workloads: Vec<&'static str>,
    /// Implementation names, in table order.
    pub stores: Vec<&'static str>,
    /// Every cell, control loop included.
    pub cells: Vec<Cell>,
    /// Rounds run.
    pub rounds: usize,
    /// Operations per thread per measurement.
    pub ops_per_thread: u64,
    /// A line saying what machine this ran on.
    pub machine: String,
    /// The command that produced this.
    pub command: String,
}

impl Results {
    fn get(&self, w: &str, s: &str, t: usize) -> Option<f64> {
        self.cells
            .iter()
            .find(|c| c.workload == w && c.store == s && c.threads == t)
            .map(Cell::median)
    }

    /// The control loop's scaling from 1 thread to `t` threads.
    pub fn control_scaling(&self, t: usize) -> Option<f64> {
        Some(self.get("control", "control", t)? / self.get("control", "control", 1)?)
    }

    /// The markdown table: per workload, median Mops/s per thread count, the scaling
    /// from 1 to 2 threads, and snapstate's throughput as a multiple of each baseline's.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "Command: `{}`  \nMachine: {}  \nMedians of {} interleaved rounds, {} ops per thread per measurement; \
             throughput in million ops/s (higher is better). `x snapstate` is snapstate's \
             throughput divided by the row's (above 1: snapstate is faster).\n\n",
            self.command, self.machine, self.rounds, self.ops_per_thread
        ));
        let tcols: Vec<String> = self.threads.iter().map(|t| format!("{t} thr")).collect();
        let ratio_cols: Vec<String> = self
            .threads
            .iter()
            .filter(|&&t| t <= 2)
            .map(|t| format!("x snapstate @{t}"))
            .collect();
        out.push_str(&format!(
            "| workload | implementation | {} | 2/1 scaling | {} |\n",
            tcols.join(" | "),
            ratio_cols.join(" | ")
        ));
        let ncols = 3 + tcols.len() + ratio_cols.len();
        out.push_str(&format!("|{}\n", "---|".repeat(ncols)));
        let row = |out: &mut String, w: &str, s: &str| {
            let vals: Vec<String> = self
                .threads
                .iter()
                .map(|&t| self.get(w, s, t).map_or("-".into(), |v| format!("{v:.1}")))
                .collect();
            let scaling = match (self.get(w, s, 1), self.get(w, s, 2)) {
                (Some(a), Some(b)) => format!("{:.2}", b / a),
                _ => "-".into(),
            };
            let ratios: Vec<String> = self
                .threads
                .iter()
                .filter(|&&t| t <= 2)
                .map(
                    |&t| match (self.get(w, "snapstate", t), self.get(w, s, t)) {
                        (Some(ours), Some(base)) if s != "snapstate" && w != "control" => {
                            format!("{:.2}", ours / base)
                        }
                        _ => "-".into(),
                    },
                )
                .collect();
            out.push_str(&format!(
                "| {w} | {s} | {} | {scaling} | {} |\n",
                vals.join(" | "),
                ratios.join(" | ")
            ));
        };
        for w in &self.workloads {
            for s in &self.stores {
                row(&mut out, w, s);
            }
        }
        row(&mut out, "control", "control");
        out
    }

    /// The JSON document: parameters, then every cell with its samples and median.
    pub fn json(&self) -> serde_json::Value {
        let cells: Vec<_> = self
            .cells
            .iter()
            .map(|c| {
                json!({
                    "workload": c.workload,
                    "implementation": c.store,
                    "threads": c.threads,
                    "median_mops": c.median(),
                    "samples_mops": c.mops,
                })
            })
            .collect();
        json!({
            "command": self.command,
            "machine": self.machine,
            "rounds": self.rounds,
            "ops_per_thread": self.ops_per_thread,
            "threads": self.threads,
            "workloads": self.workloads,
            "implementations": self.stores,
            "cells": cells,
        })
    }

    /// An SVG with one panel per workload (and one for the control loop): median
    /// throughput against threads, one line per implementation.
    pub fn svg(&self, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
        let panels: Vec<&str> = self
            .workloads
            .iter()
            .copied()
            .chain(std::iter::once("control"))
            .collect();
        let cols = 3;
        let rows = panels.len().div_ceil(cols);
        let root =
            SVGBackend::new(path, (420 * cols as u32, 320 * rows as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let areas = root.split_evenly((rows, cols));
        let max_t = *self.threads.last().unwrap_or(&1);
        for (area, w) in areas.iter().zip(&panels) {
            let stores: Vec<&str> = if *w == "control" {
                vec!["control"]
            } else {
                self.stores.clone()
            };
            let mut lines: BTreeMap<usize, Vec<(usize, f64)>> = BTreeMap::new();
            let mut ymax = 0f64;
            for (k, s) in stores.iter().enumerate() {
                for &t in &self.threads {
                    if let Some(v) = self.get(w, s, t) {
                        ymax = ymax.max(v);
                        lines.entry(k).or_default().push((t, v));
                    }
                }
            }
            let mut chart = ChartBuilder::on(area)
                .caption(*w, ("sans-serif", 18))
                .margin(8)
                .x_label_area_size(28)
                .y_label_area_size(44)
                .build_cartesian_2d(1usize..max_t, 0f64..(ymax * 1.1).max(1e-9))?;
            chart
                .configure_mesh()
                .x_desc("threads")
                .y_desc("Mops/s")
                .x_labels(max_t)
                .draw()?;
            for (k, pts) in lines {
                let color = Palette99::pick(k).to_rgba();
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                    .label(stores[k])
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                    });
                chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 11))
                .draw()?;
        }
        root.present()?;
        Ok(())
    }
}
