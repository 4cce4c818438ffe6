//! The view of a run on stderr: a status line with throughput and ETA and one progress
//! bar per worker on a terminal; a plain progress line every few seconds otherwise; a line
//! for every failure and recovery as it happens; nothing when quiet.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use snapstate_coordinator::{Event, FailureCause, Observer};

use crate::cli::ProgressMode;

/// How often a plain progress line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(3);

/// Shows a run on stderr and records its failures for the summary.
pub(crate) struct Ui {
    mode: Mode,
    started: Instant,
    state: Mutex<State>,
}

enum Mode {
    Quiet,
    /// Failure lines only.
    Events,
    /// Failure lines and a progress line every few seconds.
    Plain,
    Bars(MultiProgress),
}

#[derive(Default)]
struct State {
    status: Option<ProgressBar>,
    bars: Vec<ProgressBar>,
    total: usize,
    committed: usize,
    /// Committed when the run started (restored from a checkpoint).
    restored: usize,
    snapshots: u64,
    failures: u64,
    /// Replacements per node.
    replaced: Vec<u64>,
    last_plain: Option<Instant>,
    /// Every failure, for the JSON summary.
    events: Vec<Value>,
}

impl Ui {
    pub(crate) fn new(quiet: bool, progress: ProgressMode) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let mode = match (quiet, progress) {
            (true, _) => Mode::Quiet,
            (false, ProgressMode::None) => Mode::Events,
            (false, ProgressMode::Plain) => Mode::Plain,
            (false, ProgressMode::Auto) if !terminal => Mode::Plain,
            (false, ProgressMode::Auto | ProgressMode::Bars) => Mode::Bars(
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(15)),
            ),
        };
        Ui {
            mode,
            started: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prints a line above the bars (or plainly).
    pub(crate) fn line(&self, text: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Events | Mode::Plain => eprintln!("{text}"),
            Mode::Bars(multi) => {
                // Printing fails only if stderr is gone; nothing else to tell then.
                let _ = multi.println(text);
            }
        }
    }

    /// "120/256 shards committed (47%), 10.2 shards/s, ETA 13 s".
    fn progress_text(&self, st: &State) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let done_here = st.committed.saturating_sub(st.restored);
        let rate = done_here as f64 / secs.max(1e-3);
        let left = st.total.saturating_sub(st.committed);
        let eta = if done_here == 0 {
            "ETA unknown".to_owned()
        } else {
            format!("ETA {:.0} s", left as f64 / rate)
        };
        let pct = 100.0 * st.committed as f64 / st.total.max(1) as f64;
        format!(
            "{}/{} shards committed ({pct:.0}%), {rate:.1} shards/s, {eta}",
            st.committed, st.total
        )
    }

    fn status(&self, st: &mut State) {
        match &self.mode {
            Mode::Bars(_) => {
                if let Some(bar) = &st.status {
                    bar.set_message(format!(
                        "{:>5.1} s · snapshot {} · {} · {} failures recovered",
                        self.started.elapsed().as_secs_f64(),
                        st.snapshots,
                        self.progress_text(st),
                        st.failures
                    ));
                }
            }
            Mode::Plain => {
                let now = Instant::now();
                if st.last_plain.is_none_or(|t| now - t >= PLAIN_EVERY) {
                    st.last_plain = Some(now);
                    eprintln!(
                        "progress: {:.0} s, {}, {} failures recovered",
                        self.started.elapsed().as_secs_f64(),
                        self.progress_text(st),
                        st.failures
                    );
                }
            }
            Mode::Quiet | Mode::Events => {}
        }
    }

    /// Shows what the program is doing after the workers are done (merging, writing).
    pub(crate) fn phase(&self, text: &str) {
        self.finish();
        self.line(text);
    }

    /// Removes the bars (before the summary, or on an interruption).
    pub(crate) fn finish(&self) {
        let mut st = self.lock();
        let status = st.status.take();
        for bar in st.bars.drain(..).chain(status) {
            bar.finish_and_clear();
        }
        if let Mode::Bars(multi) = &self.mode {
            let _ = multi.clear();
        }
    }

    /// Every failure of the run, as JSON objects.
    pub(crate) fn failure_events(&self) -> Vec<Value> {
        self.lock().events.clone()
    }

    fn start_bars(&self, st: &mut State, multi: &MultiProgress, lens: &[usize], done: &[usize]) {
        let status = multi.add(ProgressBar::new_spinner());
        status.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        status.enable_steady_tick(Duration::from_millis(100));
        st.status = Some(status);
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{bar:32.green/white}] {pos:>4}/{len:<4} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        for (node, (&len, &done)) in lens.iter().zip(done).enumerate() {
            let bar = multi.add(ProgressBar::new(len as u64));
            bar.set_style(style.clone());
            bar.set_prefix(format!("worker {node}"));
            bar.set_position(done as u64);
            st.bars.push(bar);
        }
    }
}

impl Observer for Ui {
    fn event(&self, event: &Event) {
        let mut st = self.lock();
        match event {
            Event::Started {
                queue_lens,
                committed,
                resumed_from,
            } => {
                st.total = queue_lens.iter().sum();
                st.replaced = vec![0; queue_lens.len()];
                st.committed = committed.iter().sum();
                st.restored = st.committed;
                if let Some(seq) = resumed_from {
                    self.line(&format!(
                        "resuming from checkpoint snapshot {seq}: {} of {} shards already committed",
                        st.committed, st.total
                    ));
                }
                if let Mode::Bars(multi) = &self.mode {
                    self.start_bars(&mut st, multi, queue_lens, committed);
                }
                self.status(&mut st);
            }
            Event::InputsChanged {
                subtasks,
                discarded,
            } => {
                let n = subtasks.len();
                let shards = if n == 1 { "shard" } else { "shards" };
                self.line(&format!(
                    "input changed since the checkpoint in {n} {shards}: {discarded} restored shards (those and the ones after them in their workers' queues) are redone"
                ));
            }
            Event::Progress { node, done } => {
                if let Some(bar) = st.bars.get(*node) {
                    bar.set_position(*done as u64);
                }
            }
            Event::Snapshot { id, committed, .. } => {
                st.snapshots = id.get() + 1;
                st.committed = *committed;
                self.status(&mut st);
            }
            Event::Failure {
                node,
                cause,
                injected,
                progress,
            } => {
                let what = match cause {
                    FailureCause::Panicked(_) => "panicked".to_owned(),
                    FailureCause::Exited => "vanished (thread exited)".to_owned(),
                    FailureCause::Stalled(d) => {
                        format!("stalled (no heartbeat for {:.1} s)", d.as_secs_f64())
                    }
                };
                let why = match (injected, cause) {
                    (Some(kind), _) => format!("injected {kind}"),
                    (None, FailureCause::Panicked(msg)) => format!("real panic: {msg}"),
                    (None, _) => "not injected".to_owned(),
                };
                st.events.push(json!({
                    "worker": node,
                    "cause": cause.to_string(),
                    "injected": injected.map(|k| k.to_string()),
                    "shards_done": progress,
                }));
                if let Some(bar) = st.bars.get(*node) {
                    bar.set_message(format!("✗ {what}"));
                }
                self.line(&format!(
                    "✗ worker {node} {what} [{why}] with {progress} shards done",
                ));
            }
            Event::Recovered {
                node,
                snapshot,
                resume_at,
                rolled_back,
            } => {
                st.failures += 1;
                if let Some(n) = st.replaced.get_mut(*node) {
                    *n += 1;
                }
                let times = st.replaced.get(*node).copied().unwrap_or(0);
                let from = match snapshot {
                    Some(s) => format!("snapshot {s}"),
                    None => "the start (no snapshot yet)".to_owned(),
                };
                if let Some(bar) = st.bars.get(*node) {
                    bar.set_position(*resume_at as u64);
                    bar.set_message(format!("↻ replaced ×{times}"));
                }
                let shards = if *rolled_back == 1 { "shard" } else { "shards" };
                self.line(&format!(
                    "↻ worker {node} replaced: resumes at shard {resume_at} of its queue from {from}; {rolled_back} finished {shards} to redo",
                ));
                self.status(&mut st);
            }
            Event::NodeFinished { node } => {
                if let Some(bar) = st.bars.get(*node) {
                    bar.set_message("✓ done");
                }
            }
            _ => {}
        }
    }
}
