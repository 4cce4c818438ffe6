//! Goal rows: one measured figure each, with its spread over rounds, its target and
//! whether it is met, printed as a markdown table or a JSON document. The `goals` and
//! `memory` binaries print their goals this way, so every goal of the issue has an id
//! to grep for (`g1.read-heavy.t4`, `g7.fill`, ...).
//!
//! # Examples
//!
//! ```
//! use snapstate_benches::goal::{Report, Row, Target};
//!
//! // Three rounds: ours took 5, 6 and 4 ns, the baseline 10, 10 and 10 ns.
//! let row = Row::ratio(
//!     "g0.example",
//!     "an example: time vs a baseline",
//!     "ns",
//!     &[5.0, 6.0, 4.0],
//!     "baseline",
//!     &[10.0, 10.0, 10.0],
//!     Target::AtMost(0.8),
//! );
//! assert_eq!(row.figure, 0.5);
//! assert_eq!(row.met(), Some(true));
//! let mut report = Report::new("Example", "cargo run --bin example");
//! report.rows.push(row);
//! assert!(report.markdown().contains("| g0.example |"));
//! assert_eq!(report.json()["goals"][0]["met"], true);
//! ```

use serde_json::{json, Value};

use crate::stats::{median, min_max};

/// What a goal's figure must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// At most this (times, memory).
    AtMost(f64),
    /// At least this (throughputs).
    AtLeast(f64),
    /// A figure reported for context, with no target.
    None,
}

impl Target {
    fn text(self) -> String {
        match self {
            Target::AtMost(l) => format!("<= {}", num(l)),
            Target::AtLeast(l) => format!(">= {}", num(l)),
            Target::None => "-".into(),
        }
    }
}

/// One goal, or one figure reported beside the goals.
#[derive(Debug, Clone)]
pub struct Row {
    /// A short stable id (`g<goal>.<what>`), for grepping and for the JSON.
    pub id: String,
    /// What is measured, in words.
    pub what: String,
    /// The unit of `ours` and `base` (`ns`, `Mops/s`, `B/node`, ...).
    pub unit: String,
    /// snapstate's median, if the row has one.
    pub ours: Option<f64>,
    /// The baseline's name and median, if the row compares with one.
    pub base: Option<(String, f64)>,
    /// The figure the target applies to: a ratio (ours / baseline) or a value.
    pub figure: f64,
    /// The unit of the figure (`x` for a ratio).
    pub figure_unit: String,
    /// The smallest and largest per-round figure (the spread over rounds).
    pub spread: (f64, f64),
    /// What the figure must be.
    pub target: Target,
    /// The raw samples, for the JSON.
    pub samples: Value,
}

impl Row {
    /// A ratio goal: `ours[r] / base[r]` for every round `r` (both measured in that
    /// round, so drifts of the machine's load cancel); the figure is the median of the
    /// per-round ratios, the spread their range.
    ///
    /// # Panics
    ///
    /// If the slices differ in length (a harness bug).
    pub fn ratio(
        id: &str,
        what: &str,
        unit: &str,
        ours: &[f64],
        base_name: &str,
        base: &[f64],
        target: Target,
    ) -> Row {
        assert_eq!(
            ours.len(),
            base.len(),
            "{id}: one baseline sample per round"
        );
        let ratios: Vec<f64> = ours.iter().zip(base).map(|(o, b)| o / b).collect();
        Row {
            id: id.into(),
            what: what.into(),
            unit: unit.into(),
            ours: Some(median(ours)),
            base: Some((base_name.into(), median(base))),
            figure: median(&ratios),
            figure_unit: "x".into(),
            spread: min_max(&ratios),
            target,
            samples: json!({ "ours": ours, "baseline": base, "ratios": ratios }),
        }
    }

    /// A value goal: the figure is the median of snapstate's per-round `ours`, in
    /// `unit`; `base`, if given, is shown beside it for context.
    pub fn value(
        id: &str,
        what: &str,
        unit: &str,
        ours: &[f64],
        base: Option<(&str, &[f64])>,
        target: Target,
    ) -> Row {
        Row {
            id: id.into(),
            what: what.into(),
            unit: unit.into(),
            ours: Some(median(ours)),
            base: base.map(|(n, b)| (n.to_string(), median(b))),
            figure: median(ours),
            figure_unit: unit.into(),
            spread: min_max(ours),
            target,
            samples: json!({ "ours": ours, "baseline": base.map(|(_, b)| b) }),
        }
    }

    /// A figure derived from other rows (a worst or a median cell), with the spread
    /// and samples the caller computed.
    pub fn derived(
        id: &str,
        what: &str,
        figure: f64,
        spread: (f64, f64),
        target: Target,
        samples: Value,
    ) -> Row {
        Row {
            id: id.into(),
            what: what.into(),
            unit: String::new(),
            ours: None,
            base: None,
            figure,
            figure_unit: "x".into(),
            spread,
            target,
            samples,
        }
    }

    /// Whether the target is met; `None` for a row without one.
    pub fn met(&self) -> Option<bool> {
        match self.target {
            Target::AtMost(l) => Some(self.figure <= l),
            Target::AtLeast(l) => Some(self.figure >= l),
            Target::None => None,
        }
    }

    fn cells(&self) -> [String; 8] {
        let with_unit = |v: f64, u: &str| {
            // Long times read better in larger units.
            let (v, u) = match u {
                "ns" if v.abs() >= 1e7 => (v / 1e6, "ms"),
                "ns" if v.abs() >= 1e4 => (v / 1e3, "us"),
                _ => (v, u),
            };
            if u == "x" {
                format!("{}x", num(v))
            } else if u.is_empty() {
                num(v)
            } else {
                format!("{} {u}", num(v))
            }
        };
        [
            self.id.clone(),
            self.what.clone(),
            self.ours.map_or("-".into(), |o| with_unit(o, &self.unit)),
            self.base.as_ref().map_or("-".into(), |(n, b)| {
                format!("{n}: {}", with_unit(*b, &self.unit))
            }),
            with_unit(self.figure, &self.figure_unit),
            format!("{}-{}", num(self.spread.0), num(self.spread.1)),
            self.target.text(),
            match self.met() {
                Some(true) => "yes".into(),
                Some(false) => "**no**".into(),
                None => "-".into(),
            },
        ]
    }

    fn json(&self) -> Value {
        let (op, limit) = match self.target {
            Target::AtMost(l) => (Some("<="), Some(l)),
            Target::AtLeast(l) => (Some(">="), Some(l)),
            Target::None => (None, None),
        };
        json!({
            "id": self.id,
            "what": self.what,
            "unit": self.unit,
            "ours": self.ours,
            "baseline": self.base.as_ref().map(|b| &b.0),
            "baseline_value": self.base.as_ref().map(|b| b.1),
            "figure": self.figure,
            "figure_unit": self.figure_unit,
            "spread": [self.spread.0, self.spread.1],
            "target": { "op": op, "limit": limit },
            "met": self.met(),
            "samples": self.samples,
        })
    }
}

/// A titled set of rows with the lines that say how they were measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// A heading (`Goals of issue 10`).
    pub title: String,
    /// The command that produced it.
    pub command: String,
    /// The machine line ([`crate::machine::describe`]).
    pub machine: String,
    /// Paragraphs printed between the header and the table: how things were measured.
    pub notes: Vec<String>,
    /// The rows, in order.
    pub rows: Vec<Row>,
}

impl Report {
    /// An empty report for `command`, on this machine (read now).
    pub fn new(title: &str, command: &str) -> Report {
        Report {
            title: title.into(),
            command: command.into(),
            machine: crate::machine::describe(),
            notes: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// The report as markdown: a header, the notes, then one table row per goal.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "Command: `{}`  \nMachine: {}\n\n",
            self.command, self.machine
        );
        for n in &self.notes {
            out.push_str(n);
            out.push_str("\n\n");
        }
        out.push_str(
            "| id | what | snapstate | baseline | figure | spread | target | met |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            out.push_str(&format!("| {} |\n", r.cells().join(" | ")));
        }
        let met = self.rows.iter().filter(|r| r.met() == Some(true)).count();
        let with = self.rows.iter().filter(|r| r.met().is_some()).count();
        out.push_str(&format!(
            "\n{met} of {with} rows with a target met. Not met: {}.\n",
            self.unmet().join(", ")
        ));
        out
    }

    /// The ids of the rows whose target is not met (`none` if every one is).
    pub fn unmet(&self) -> Vec<String> {
        let v: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.met() == Some(false))
            .map(|r| r.id.clone())
            .collect();
        if v.is_empty() {
            vec!["none".into()]
        } else {
            v
        }
    }

    /// The report as JSON: the header fields, then every row with its samples.
    pub fn json(&self) -> Value {
        json!({
            "title": self.title,
            "command": self.command,
            "machine": self.machine,
            "notes": self.notes,
            "goals": self.rows.iter().map(Row::json).collect::<Vec<_>>(),
        })
    }
}

/// A number with three significant digits or so: `1234`, `12.3`, `1.23`, `0.123`.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_compare_the_right_way() {
        let up = Row::ratio(
            "a",
            "a",
            "Mops/s",
            &[3.0],
            "b",
            &[2.0],
            Target::AtLeast(1.5),
        );
        assert_eq!(up.met(), Some(true));
        let down = Row::ratio("a", "a", "ns", &[3.0], "b", &[2.0], Target::AtMost(1.4));
        assert_eq!(down.met(), Some(false));
        let v = Row::value(
            "c",
            "c",
            "B",
            &[20.0, 10.0, 12.0],
            None,
            Target::AtMost(16.0),
        );
        assert_eq!(
            (v.figure, v.spread, v.met()),
            (12.0, (10.0, 20.0), Some(true))
        );
        assert_eq!(
            Row::value("d", "d", "ns", &[1.0], None, Target::None).met(),
            None
        );
    }

    #[test]
    fn the_table_names_unmet_rows() {
        let mut r = Report::new("t", "cmd");
        r.rows.push(Row::value(
            "g9.ok",
            "ok",
            "ns",
            &[1.0],
            None,
            Target::AtMost(2.0),
        ));
        r.rows.push(Row::value(
            "g9.bad",
            "bad",
            "ns",
            &[3.0],
            None,
            Target::AtMost(2.0),
        ));
        let md = r.markdown();
        assert!(
            md.contains("1 of 2 rows with a target met. Not met: g9.bad."),
            "{md}"
        );
        assert_eq!(r.json()["goals"][1]["met"], false);
    }

    #[test]
    fn numbers_keep_three_digits() {
        assert_eq!(num(1234.4), "1234");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(0.1234), "0.123");
    }
}
