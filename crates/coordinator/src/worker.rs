//! A worker node's thread: runs its queue in order and reports progress with `set_state`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use snapstate::SnapshotArray;

use crate::context::{TaskContext, TaskSignal};
use crate::event::{Event, Observer};
use crate::fault::{FaultKind, FaultSchedule, InjectedPanic};
use crate::identity::Fingerprint;
use crate::job::{Job, JobError};
use crate::outbox::{Outbox, Staged};
use crate::plan::Plan;

/// What the workers of one run share.
pub(crate) struct Shared<J: Job> {
    pub(crate) job: Arc<J>,
    pub(crate) plan: Plan,
    /// Node `i`'s state is its progress: subtasks of its queue completed.
    pub(crate) array: SnapshotArray<u64>,
    pub(crate) outboxes: Vec<Outbox<J::Output>>,
    /// Runs started per subtask; the attempt number fault injection keys on.
    pub(crate) attempts: Vec<AtomicU32>,
    pub(crate) faults: FaultSchedule,
    pub(crate) observer: Arc<dyn Observer>,
    /// Whether outputs need their inputs' fingerprints (a checkpoint directory stores them).
    pub(crate) fingerprints: bool,
    /// Completed `Job::run` calls.
    pub(crate) runs: AtomicU64,
    /// Injected faults, indexed like `FaultKind::ALL`.
    pub(crate) injected: [AtomicU64; 3],
}

impl<J: Job> std::fmt::Debug for Shared<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("plan", &self.plan)
            .field("array", &self.array)
            .finish_non_exhaustive()
    }
}

/// Messages to the coordinator's loop.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A worker thread ended (sent from a drop guard, so on panics too).
    Exited,
    /// Someone asked for a snapshot now.
    Snapshot,
    /// Someone asked the run to stop.
    Stop,
}

/// How a worker thread ended (a panic ends it too, seen as the join error).
#[derive(Debug)]
pub(crate) enum Exit {
    /// Its whole queue is completed.
    Done,
    /// It found it had been replaced (or cancelled) and stopped.
    Fenced,
    /// It vanished mid-queue (an injected kill).
    Vanished,
    /// A subtask failed in a way retrying cannot fix.
    JobFailed { subtask: usize, error: JobError },
}

/// One worker: node `node`, generation `generation`, starting at queue position `start`.
#[derive(Debug)]
pub(crate) struct Worker<J: Job> {
    pub(crate) shared: Arc<Shared<J>>,
    pub(crate) node: usize,
    pub(crate) generation: u64,
    pub(crate) start: usize,
    pub(crate) signal: Arc<TaskSignal>,
    pub(crate) wake: Sender<Msg>,
}

struct WakeOnExit(Sender<Msg>);

impl Drop for WakeOnExit {
    fn drop(&mut self) {
        // The coordinator may already be gone when a zombie ends; nothing to tell then.
        let _ = self.0.send(Msg::Exited);
    }
}

impl<J: Job> Worker<J> {
    /// Starts the worker on its own thread.
    pub(crate) fn spawn(self) -> std::io::Result<thread::JoinHandle<Exit>> {
        thread::Builder::new()
            .name(format!("snapstate-worker-{}", self.node))
            .spawn(move || {
                let _wake = WakeOnExit(self.wake.clone());
                self.run()
            })
    }

    fn run(&self) -> Exit {
        let sh = &*self.shared;
        let outbox = &sh.outboxes[self.node];
        for pos in self.start..sh.plan.queue_len(self.node) {
            if self.signal.is_cancelled() {
                return Exit::Fenced;
            }
            // Starting a subtask is a sign of life too.
            self.signal.beat();
            let subtask = sh.plan.subtask(self.node, pos);
            // Relaxed: a counter; only its uniqueness per run matters.
            let attempt = sh.attempts[subtask].fetch_add(1, Ordering::Relaxed);
            let before = if sh.fingerprints && !sh.job.fingerprints_in_run() {
                match sh.job.fingerprint(subtask) {
                    Ok(f) => Some(f),
                    Err(error) => return self.failed(subtask, error),
                }
            } else {
                None
            };
            let ctx = TaskContext::new(subtask, attempt, Arc::clone(&self.signal))
                .with_fingerprint(sh.fingerprints);
            let output = match sh.job.run(subtask, &ctx) {
                Ok(output) => output,
                Err(error) => return self.failed(subtask, error),
            };
            // Relaxed: a statistic read after the workers are joined or fenced.
            sh.runs.fetch_add(1, Ordering::Relaxed);
            if let Some(kind) = sh.faults.decide(subtask, attempt) {
                if !outbox.mark_injected(self.generation, kind) {
                    return Exit::Fenced;
                }
                let k = FaultKind::ALL.iter().position(|&x| x == kind).unwrap_or(0);
                // Relaxed: a statistic, as above.
                sh.injected[k].fetch_add(1, Ordering::Relaxed);
                match kind {
                    FaultKind::Panic => std::panic::panic_any(InjectedPanic { subtask }),
                    FaultKind::Kill => return Exit::Vanished,
                    FaultKind::Stall => {
                        // Hangs without a heartbeat until replaced.
                        while !self.signal.is_cancelled() {
                            thread::sleep(Duration::from_millis(5));
                        }
                        return Exit::Fenced;
                    }
                }
            }
            let fingerprint = match (ctx.recorded_fingerprint().or(before), sh.fingerprints) {
                (Some(f), _) => f,
                (None, false) => Fingerprint::NO_INPUT,
                // The job said it would record one and did not: read the inputs now.
                (None, true) => match sh.job.fingerprint(subtask) {
                    Ok(f) => f,
                    Err(error) => return self.failed(subtask, error),
                },
            };
            let staged = Staged {
                pos,
                output,
                fingerprint,
            };
            let delivered = outbox.deliver(self.generation, staged, || {
                // An index below `len` never fails; the coordinator checks the plan against
                // the array when it starts.
                let _ = sh.array.set_state(self.node, pos as u64 + 1);
                sh.observer.event(&Event::Progress {
                    node: self.node,
                    done: pos + 1,
                });
            });
            if !delivered {
                return Exit::Fenced;
            }
        }
        Exit::Done
    }

    fn failed(&self, subtask: usize, error: JobError) -> Exit {
        if matches!(error, JobError::Cancelled) || self.signal.is_cancelled() {
            // A replaced run's error is as void as its output.
            Exit::Fenced
        } else {
            Exit::JobFailed { subtask, error }
        }
    }
}
