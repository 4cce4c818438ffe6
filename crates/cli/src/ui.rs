//! The terminal view of a run: a status line, one progress bar per worker, and a line for
//! every failure and recovery as it happens.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use snapstate_coordinator::{Event, FailureCause, Observer};

/// Shows a run on stderr: bars on a terminal, plain event lines otherwise, nothing when quiet.
pub(crate) struct Ui {
    mode: Mode,
    started: Instant,
    state: Mutex<State>,
}

enum Mode {
    Quiet,
    Lines,
    Bars(MultiProgress),
}

#[derive(Default)]
struct State {
    status: Option<ProgressBar>,
    bars: Vec<ProgressBar>,
    total: usize,
    committed: usize,
    snapshots: u64,
    failures: u64,
    /// Replacements per node.
    replaced: Vec<u64>,
}

impl Ui {
    pub(crate) fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars(MultiProgress::with_draw_target(
                ProgressDrawTarget::stderr_with_hz(15),
            ))
        } else {
            Mode::Lines
        };
        Ui {
            mode,
            started: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    fn line(&self, text: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{text}"),
            Mode::Bars(multi) => {
                // Printing fails only if stderr is gone; nothing else to tell then.
                let _ = multi.println(text);
            }
        }
    }

    fn status(&self, st: &State) {
        if let Some(bar) = &st.status {
            bar.set_message(format!(
                "{:>5.1} s · snapshot {} · {}/{} shards committed · {} failures recovered",
                self.started.elapsed().as_secs_f64(),
                st.snapshots,
                st.committed,
                st.total,
                st.failures
            ));
        }
    }

    /// Removes the bars before the summary is printed.
    pub(crate) fn finish(&self) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for bar in st.bars.iter().chain(&st.status) {
            bar.finish_and_clear();
        }
        if let Mode::Bars(multi) = &self.mode {
            let _ = multi.clear();
        }
    }
}

impl Observer for Ui {
    fn event(&self, event: &Event) {
        if matches!(self.mode, Mode::Quiet) {
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Started {
                queue_lens,
                committed,
                resumed_from,
            } => {
                st.total = queue_lens.iter().sum();
                st.replaced = vec![0; queue_lens.len()];
                st.committed = committed.iter().sum();
                if let Some(snap) = resumed_from {
                    self.line(&format!(
                        "resuming from checkpoint snapshot {snap}: {} of {} shards already committed",
                        st.committed, st.total
                    ));
                }
                if let Mode::Bars(multi) = &self.mode {
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
                    for (node, (&len, &done)) in queue_lens.iter().zip(committed).enumerate() {
                        let bar = multi.add(ProgressBar::new(len as u64));
                        bar.set_style(style.clone());
                        bar.set_prefix(format!("worker {node}"));
                        bar.set_position(done as u64);
                        st.bars.push(bar);
                    }
                }
                self.status(&st);
            }
            Event::Progress { node, done } => {
                if let Some(bar) = st.bars.get(*node) {
                    bar.set_position(*done as u64);
                }
            }
            Event::Snapshot { id, committed, .. } => {
                st.snapshots = id.get() + 1;
                st.committed = *committed;
                self.status(&st);
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
                        format!("stalled (no progress for {:.1} s)", d.as_secs_f64())
                    }
                };
                let why = match (injected, cause) {
                    (Some(kind), _) => format!("injected {kind}"),
                    (None, FailureCause::Panicked(msg)) => format!("real panic: {msg}"),
                    (None, _) => "not injected".to_owned(),
                };
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
                self.status(&st);
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
