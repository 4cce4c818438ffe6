//! Exactly-once output under failures: across many fault seeds, failure rates and worker
//! counts, the outputs equal those of a failure-free run, byte for byte.
//!
//! Correctness assertions only; sizes are small so this stays quick on 2 cores.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use snapstate_coordinator::{
    Coordinator, CoordinatorConfig, CoordinatorError, Event, FailureCause, FaultPlan,
    InjectedPanic, Job, JobError, JobIdentity, NoopObserver, Observer, TaskContext,
};

/// Keeps injected panics from printing a backtrace line per failure.
fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<InjectedPanic>().is_none() {
                default(info);
            }
        }));
    });
}

/// Subtask `k` outputs a few bytes derived from `k`.
struct Digest(usize);

fn digest(k: usize) -> Vec<u8> {
    (0..(k % 7 + 1)).map(|i| (k * 31 + i * 17) as u8).collect()
}

impl Job for Digest {
    type Output = Vec<u8>;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("digest")
    }
    fn subtasks(&self) -> usize {
        self.0
    }
    fn run(&self, k: usize, _: &TaskContext) -> Result<Vec<u8>, JobError> {
        // A little work so snapshots land between subtasks.
        std::thread::sleep(Duration::from_micros(200));
        Ok(digest(k))
    }
}

/// Records what a run reported.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Observer for Recorder {
    fn event(&self, e: &Event) {
        self.events.lock().unwrap().push(e.clone());
    }
}

/// Snapshots every 2 ms; a short stall timeout keeps injected stalls cheap (a healthy
/// worker taken for stalled on a busy machine is just one more recovered failure).
fn config(workers: usize, seed: u64, rate: f64) -> CoordinatorConfig {
    CoordinatorConfig::new(workers)
        .unwrap()
        .snapshot_interval(Duration::from_millis(2))
        .stall_timeout(Duration::from_millis(40))
        .faults(FaultPlan::new(seed, rate).unwrap())
}

#[test]
fn outputs_match_a_failure_free_run_across_seeds_rates_and_worker_counts() {
    quiet_injected_panics();
    let expected: Vec<Vec<u8>> = (0..60).map(digest).collect();
    let mut failures_seen = 0;
    let mut rolled_back_seen = 0;
    for (i, &rate) in [0.05, 0.15, 0.3].iter().enumerate() {
        for seed in 0..12u64 {
            let workers = [1, 2, 3, 5][(seed as usize + i) % 4];
            let recorder = Arc::new(Recorder::default());
            let run = Coordinator::new(Digest(60), config(workers, seed, rate))
                .run(recorder.clone())
                .unwrap_or_else(|e| panic!("seed {seed} rate {rate}: {e}"));
            assert_eq!(
                run.outputs, expected,
                "seed {seed} rate {rate} workers {workers}"
            );
            let s = &run.stats;
            assert_eq!(s.failures, s.recoveries, "every failure is recovered");
            assert!(
                s.injected.total() <= s.failures,
                "every injected fault is detected"
            );
            assert!(s.subtask_runs >= 60);
            failures_seen += s.failures;
            rolled_back_seen += s.rolled_back;
            check_events(&recorder.events.lock().unwrap(), workers, 60);
        }
    }
    // The sweep really exercised recovery, including redoing completed work.
    assert!(failures_seen > 50, "{failures_seen} failures");
    assert!(
        rolled_back_seen > 0,
        "no completed work was ever rolled back"
    );
}

/// The event stream is consistent with snapshot-committed output: commits only grow,
/// a replacement resumes at its node's committed progress, and the final snapshot covers
/// every subtask.
fn check_events(events: &[Event], workers: usize, subtasks: usize) {
    let mut committed = 0;
    let mut last_id = None;
    for e in events {
        match e {
            Event::Snapshot {
                id, committed: c, ..
            } => {
                assert!(*c >= committed, "commits went back");
                assert!(last_id < Some(*id), "snapshot ids not increasing");
                committed = *c;
                last_id = Some(*id);
            }
            Event::Recovered { node, .. } => assert!(*node < workers),
            _ => {}
        }
    }
    assert_eq!(committed, subtasks);
}

/// Panics from the job itself (not injected) are recovered like injected ones.
struct PanicsOnce {
    tried: Vec<AtomicBool>,
}

impl Job for PanicsOnce {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("panicsonce")
    }
    fn subtasks(&self) -> usize {
        self.tried.len()
    }
    fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> {
        // Relaxed: each flag is only ever swapped, and only its own value matters.
        if k % 5 == 2 && !self.tried[k].swap(true, Ordering::Relaxed) {
            panic!("first try of subtask {k} fails");
        }
        Ok(k as u64 * 3)
    }
}

#[test]
fn real_panics_are_recovered() {
    let job = PanicsOnce {
        tried: (0..30).map(|_| AtomicBool::new(false)).collect(),
    };
    let recorder = Arc::new(Recorder::default());
    // The default panic hook may print (and symbolise) a backtrace; no stall timeout may
    // strike while it does.
    let config = config(3, 0, 0.0).stall_timeout(Duration::from_secs(30));
    let run = Coordinator::new(job, config).run(recorder.clone()).unwrap();
    assert_eq!(run.outputs, (0..30).map(|k| k * 3).collect::<Vec<u64>>());
    assert_eq!(run.stats.failures, 6);
    let events = recorder.events.lock().unwrap();
    let panics = events
        .iter()
        .filter(|e| matches!(e, Event::Failure { cause: FailureCause::Panicked(m), injected: None, .. } if m.contains("first try")))
        .count();
    assert_eq!(panics, 6, "{events:?}");
}

/// A worker that hangs in real code (not injected) is replaced after the stall timeout;
/// when it wakes up, its late output is fenced out.
struct HangsOnce {
    hung: AtomicBool,
    zombie_finished: Arc<AtomicBool>,
}

impl Job for HangsOnce {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("hangsonce")
    }
    fn subtasks(&self) -> usize {
        80
    }
    fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> {
        // Relaxed: only the flag's own value matters.
        if k == 4 && !self.hung.swap(true, Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(300));
            // Release: pairs with the test's Acquire load after the run.
            self.zombie_finished.store(true, Ordering::Release);
            return Ok(u64::MAX); // a wrong answer that must never be committed
        }
        std::thread::sleep(Duration::from_millis(10));
        Ok(k as u64)
    }
}

#[test]
fn a_hung_worker_is_replaced_and_its_late_output_discarded() {
    let zombie_finished = Arc::new(AtomicBool::new(false));
    let job = HangsOnce {
        hung: AtomicBool::new(false),
        zombie_finished: zombie_finished.clone(),
    };
    let config = CoordinatorConfig::new(2)
        .unwrap()
        .snapshot_interval(Duration::from_millis(5))
        .stall_timeout(Duration::from_millis(60));
    let recorder = Arc::new(Recorder::default());
    let run = Coordinator::new(job, config).run(recorder.clone()).unwrap();
    assert_eq!(run.outputs, (0..80).collect::<Vec<u64>>());
    assert!(
        // Acquire: pairs with the Release store in the hung run.
        zombie_finished.load(Ordering::Acquire),
        "the hung run finished during the job"
    );
    let events = recorder.events.lock().unwrap();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Failure {
            node: 0,
            cause: FailureCause::Stalled(_),
            ..
        }
    )));
}

struct AlwaysPanics;

impl Job for AlwaysPanics {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("alwayspanics")
    }
    fn subtasks(&self) -> usize {
        4
    }
    fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> {
        if k == 2 {
            panic!("subtask 2 is broken");
        }
        Ok(0)
    }
}

#[test]
fn a_subtask_that_always_fails_ends_the_job_with_an_error() {
    let err = Coordinator::new(AlwaysPanics, config(2, 0, 0.0).max_failures(3))
        .run(Arc::new(NoopObserver))
        .unwrap_err();
    match err {
        CoordinatorError::GaveUp {
            subtask, failures, ..
        } => assert_eq!((subtask, failures), (2, 3)),
        other => panic!("unexpected error {other}"),
    }
}

struct Unreadable;

impl Job for Unreadable {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("unreadable")
    }
    fn subtasks(&self) -> usize {
        6
    }
    fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> {
        if k == 3 {
            return Err(JobError::new("cannot read doc 3"));
        }
        Ok(0)
    }
}

#[test]
fn a_job_error_stops_the_run_without_retrying() {
    let err = Coordinator::new(Unreadable, config(2, 0, 0.0))
        .run(Arc::new(NoopObserver))
        .unwrap_err();
    assert!(
        matches!(err, CoordinatorError::Job { subtask: 3, .. }),
        "{err}"
    );
    assert_eq!(err.to_string(), "subtask 3 failed");
    let cause = std::error::Error::source(&err).map(ToString::to_string);
    assert_eq!(cause.as_deref(), Some("cannot read doc 3"));
}

/// Subtask 5 waits until the test lets it go.
struct Gate {
    open: Arc<AtomicBool>,
    runs: Arc<AtomicU32>,
}

impl Job for Gate {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("gate")
    }
    fn subtasks(&self) -> usize {
        8
    }
    fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> {
        // Release: pairs with the test's Acquire load of `runs`.
        self.runs.fetch_add(1, Ordering::Release);
        // Acquire: pairs with the test's Release store of `open`.
        while k == 5 && !self.open.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(k as u64)
    }
}

#[test]
fn a_snapshot_is_taken_when_asked() {
    let open = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicU32::new(0));
    let config = CoordinatorConfig::new(1)
        .unwrap()
        .snapshot_interval(Duration::from_secs(3600))
        .stall_timeout(Duration::from_secs(3600));
    let coordinator = Coordinator::new(
        Gate {
            open: open.clone(),
            runs: runs.clone(),
        },
        config,
    );
    let handle = coordinator.handle();
    let recorder = Arc::new(Recorder::default());
    let rec = recorder.clone();
    let worker = std::thread::spawn(move || coordinator.run(rec));
    // Subtasks 0..5 complete, then subtask 5 blocks.
    // Acquire: pairs with the Release increment in `Gate::run`.
    while runs.load(Ordering::Acquire) < 6 {
        std::thread::sleep(Duration::from_millis(1));
    }
    handle.request_snapshot();
    let mut committed = 0;
    while committed == 0 {
        std::thread::sleep(Duration::from_millis(1));
        committed = recorder
            .events
            .lock()
            .unwrap()
            .iter()
            .find_map(|e| match e {
                Event::Snapshot { committed, .. } => Some(*committed),
                _ => None,
            })
            .unwrap_or(0);
    }
    assert_eq!(
        committed, 5,
        "the requested snapshot covers the five finished subtasks"
    );
    // Release: pairs with the Acquire load in `Gate::run`.
    open.store(true, Ordering::Release);
    let run = worker.join().unwrap().unwrap();
    assert_eq!(run.outputs, (0..8).collect::<Vec<u64>>());
}
