//! The end-of-run summary: for a person (text) and for scripts (JSON).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use snapstate_coordinator::RunStats;
use snapstate_search::{IndexStats, Skipped, WrittenIndex};

/// Everything the summary reports.
pub(crate) struct Summary<'a> {
    pub(crate) corpus: &'a str,
    /// `--input`, as given.
    pub(crate) input: Option<&'a Path>,
    /// Files the walk left out, by reason (from the search crate's corpus).
    pub(crate) skipped: &'a BTreeMap<&'static str, u64>,
    /// The files left out, to list in the JSON summary (with `--verbose`).
    pub(crate) skipped_files: Option<&'a [Skipped]>,
    pub(crate) failure_rate: f64,
    pub(crate) fault_seed: u64,
    pub(crate) max_injected: usize,
    /// Every failure, as the UI recorded it.
    pub(crate) failures: Vec<Value>,
    pub(crate) run: &'a RunStats,
    pub(crate) index: IndexStats,
    pub(crate) written: &'a WrittenIndex,
    pub(crate) snapshot_every: Duration,
    pub(crate) checkpoint_dir: Option<&'a Path>,
    pub(crate) sample_term: Option<&'a str>,
    pub(crate) total: Duration,
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

impl Summary<'_> {
    fn secs(&self) -> f64 {
        self.total.as_secs_f64().max(1e-9)
    }

    /// The summary a newcomer reads.
    pub(crate) fn text(&self) -> String {
        let r = self.run;
        let i = self.index;
        let mut out = format!(
            "Indexed {} documents ({}) with {} in {:.2} s.\n\n",
            thousands(i.docs),
            mb(i.bytes),
            plural(r.workers as u64, "worker", "workers"),
            self.secs()
        );
        let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<12} {v}\n"));
        if !self.skipped.is_empty() {
            let parts: Vec<_> = self
                .skipped
                .iter()
                .map(|(why, n)| format!("{} {why}", thousands(*n)))
                .collect();
            row(
                "skipped",
                format!(
                    "{} files ({})",
                    thousands(self.skipped.values().sum()),
                    parts.join(", ")
                ),
            );
        }
        row(
            "throughput",
            format!(
                "{} docs/s, {:.1} MB/s, {} shards",
                thousands((i.docs as f64 / self.secs()) as u64),
                i.bytes as f64 / 1e6 / self.secs(),
                r.subtasks
            ),
        );
        row(
            "index",
            format!(
                "{} terms, {} postings -> {} ({})",
                thousands(i.terms),
                thousands(i.postings),
                self.written.path.display(),
                mb(self.written.bytes)
            ),
        );
        row(
            "checksum",
            format!(
                "{:016x} (any run over the same corpus gives this, failures or not)",
                self.written.checksum
            ),
        );
        let inj = r.injected;
        row(
            "failures",
            format!(
                "{} injected at rate {} (at most {}: {}, {}, {}); {} detected, {} replaced",
                inj.total(),
                self.failure_rate,
                self.max_injected,
                plural(inj.panic, "panic", "panics"),
                plural(inj.kill, "silent exit", "silent exits"),
                plural(inj.stall, "stall", "stalls"),
                r.failures,
                plural(r.recoveries, "worker", "workers"),
            ),
        );
        row(
            "snapshots",
            format!(
                "{} taken, every {} ms; a replaced worker resumed from its node's last one",
                thousands(r.snapshots),
                self.snapshot_every.as_millis()
            ),
        );
        let needed = (r.subtasks - r.restored) as u64;
        let redone = r.redone_runs();
        row(
            "work redone",
            format!(
                "{} ({:.1}% on top of {} needed): {} finished but not yet snapshotted, {} cut short by the failure",
                plural(redone, "shard run", "shard runs"),
                100.0 * redone as f64 / needed.max(1) as f64,
                thousands(needed),
                thousands(r.rolled_back),
                thousands(redone.saturating_sub(r.rolled_back)),
            ),
        );
        if let Some(dir) = self.checkpoint_dir {
            let changed = if r.inputs_changed > 0 {
                format!(
                    " ({} changed since: {} restored shards redone)",
                    plural(r.inputs_changed as u64, "shard's input", "shards' inputs"),
                    r.discarded_on_resume
                )
            } else {
                String::new()
            };
            let resumed = match r.resumed_from {
                Some(s) => format!(
                    "; resumed from snapshot {s} with {} shards already done{changed}",
                    r.restored
                ),
                None => String::new(),
            };
            row(
                "checkpoints",
                format!(
                    "{} written to {}{resumed}",
                    thousands(r.checkpoints_written),
                    dir.display()
                ),
            );
        }
        if let Some(term) = self.sample_term {
            let via_cargo = std::env::var_os("CARGO_MANIFEST_DIR").is_some();
            let cmd = if via_cargo {
                "cargo run --release -- query"
            } else {
                "snapstate query"
            };
            let index_flag = if self.written.path.parent() == Some(Path::new("snapstate-index")) {
                String::new()
            } else {
                format!(
                    " --index {}",
                    self.written
                        .path
                        .parent()
                        .unwrap_or(Path::new("."))
                        .display()
                )
            };
            out.push_str(&format!("\nTry a query: {cmd} {term}{index_flag}\n"));
        }
        out
    }

    /// The summary for scripts.
    pub(crate) fn json(&self) -> Value {
        let r = self.run;
        json!({
            "ok": true,
            "version": env!("CARGO_PKG_VERSION"),
            "corpus": self.corpus,
            "input": self.input,
            "skipped": self.skipped,
            "skipped_total": self.skipped.values().sum::<u64>(),
            "skipped_files": self.skipped_files,
            "failure_rate": self.failure_rate,
            "fault_seed": self.fault_seed,
            "max_injected": self.max_injected,
            "checkpoint_dir": self.checkpoint_dir,
            "failure_events": self.failures,
            "total_secs": self.secs(),
            "docs_per_sec": self.index.docs as f64 / self.secs(),
            "mb_per_sec": self.index.bytes as f64 / 1e6 / self.secs(),
            "index": {
                "path": self.written.path,
                "file_bytes": self.written.bytes,
                "checksum": format!("{:016x}", self.written.checksum),
                "stats": self.index,
            },
            "run": r,
            "redone_runs": r.redone_runs(),
            "snapshot_every_ms": self.snapshot_every.as_millis() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
