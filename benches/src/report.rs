//! The scaling harness's outputs: a markdown table, a JSON document and one SVG plot
//! per workload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

    /// One SVG per workload (`scaling-<workload>.svg`) and one for the control loop
    /// (`scaling-control.svg`) in `dir`: median throughput against threads, one line per
    /// implementation, a logarithmic throughput axis (equal gaps are equal ratios).
    /// Returns the files written, in table order.
    ///
    /// # Errors
    ///
    /// If a file cannot be written or drawn.
    pub fn svgs(&self, dir: &Path) -> Result<Vec<PathBuf>, Box<dyn std::error::Error>> {
        let mut files = Vec::new();
        for w in self
            .workloads
            .iter()
            .copied()
            .chain(std::iter::once("control"))
        {
            let path = dir.join(format!("scaling-{w}.svg"));
            self.svg(w, &path)?;
            files.push(path);
        }
        Ok(files)
    }

    /// The SVG of workload `w` (or `control`) at `path`.
    fn svg(&self, w: &str, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
        let stores: Vec<&str> = if w == "control" {
            vec!["control"]
        } else {
            self.stores.clone()
        };
        let mut lines: BTreeMap<usize, Vec<(usize, f64)>> = BTreeMap::new();
        let (mut ymin, mut ymax) = (f64::INFINITY, 0f64);
        for (k, s) in stores.iter().enumerate() {
            for &t in &self.threads {
                if let Some(v) = self.get(w, s, t) {
                    ymin = ymin.min(v);
                    ymax = ymax.max(v);
                    lines.entry(k).or_default().push((t, v));
                }
            }
        }
        if lines.is_empty() {
            return Err(format!("no measurements for {w}").into());
        }
        let max_t = *self.threads.last().unwrap_or(&1);
        let root = SVGBackend::new(path, (820, 460)).into_drawing_area();
        root.fill(&WHITE)?;
        // The plot on the left, the legend in a column of its own on the right, so it
        // never hides a line.
        let (plot, legend) = root.split_horizontally(660);
        let (lo, hi) = ((ymin / 1.5).max(1e-3), (ymax * 1.5).max(1e-2));
        let mut chart = ChartBuilder::on(&plot)
            .caption(
                format!(
                    "{w}: throughput against threads (medians of {} rounds, {} ops/thread)",
                    self.rounds, self.ops_per_thread
                ),
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(
                1usize..max_t,
                (lo..hi).log_scale().with_key_points(ticks(lo, hi)),
            )?;
        chart
            .configure_mesh()
            .x_desc("threads")
            .y_desc("throughput, million ops/s (log scale)")
            .x_labels(max_t)
            .light_line_style(WHITE)
            .y_label_formatter(&|v| crate::goal::num(*v))
            .draw()?;
        for (row, (k, pts)) in lines.into_iter().enumerate() {
            let (color, width) = style(stores[k], k);
            chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(width)))?;
            chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
            let y = 60 + 24 * row as i32;
            legend.draw(&PathElement::new(
                vec![(4, y), (28, y)],
                color.stroke_width(width),
            ))?;
            legend.draw(&Text::new(
                stores[k].to_string(),
                (34, y - 7),
                ("sans-serif", 13).into_font(),
            ))?;
        }
        root.present()?;
        Ok(())
    }
}

/// The colour and line width of an implementation's line: snapstate and node-locks (the
/// bar to beat) drawn thicker, every line in a colour that reads on white.
fn style(store: &str, k: usize) -> (RGBAColor, u32) {
    let rgb = |r, g, b| RGBColor(r, g, b).to_rgba();
    match store {
        "snapstate" => (rgb(214, 39, 40), 3),
        "node-locks" => (rgb(0, 0, 0), 3),
        "std-mutex" => (rgb(31, 119, 180), 2),
        "pl-mutex" => (rgb(255, 127, 14), 2),
        "pl-rwlock" => (rgb(44, 160, 44), 2),
        "skiplist" => (rgb(140, 86, 75), 2),
        "cow-arcswap" => (rgb(127, 127, 127), 2),
        "control" => (rgb(23, 190, 207), 2),
        _ => (Palette99::pick(k).to_rgba(), 2),
    }
}

/// Ticks at 1, 2 and 5 times the powers of ten between `lo` and `hi`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut p = 10f64.powi(lo.log10().floor() as i32);
    while p <= hi {
        for m in [1.0, 2.0, 5.0] {
            let t = p * m;
            if t >= lo && t <= hi {
                out.push(t);
            }
        }
        p *= 10.0;
    }
    out
}
