//! Liveness is a heartbeat: slow subtasks that beat are never replaced, and a replaced
//! worker's subtask stops at its next poll of the cancellation.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use snapstate_coordinator::{
    Coordinator, CoordinatorConfig, Job, JobError, JobIdentity, NoopObserver, TaskContext,
};

/// Each subtask works for `work`, beating every 2 ms.
struct Slow {
    work: Duration,
}

impl Job for Slow {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("slow")
    }
    fn subtasks(&self) -> usize {
        4
    }
    fn run(&self, k: usize, ctx: &TaskContext) -> Result<u64, JobError> {
        let until = Instant::now() + self.work;
        while Instant::now() < until {
            ctx.heartbeat()?;
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(k as u64)
    }
}

#[test]
fn subtasks_far_longer_than_the_stall_timeout_are_not_failures() {
    // Each subtask takes 6 stall timeouts; with liveness as "a finished subtask within
    // the timeout" every one of them would be replaced until the job gave up.
    let config = CoordinatorConfig::new(2)
        .unwrap()
        .stall_timeout(Duration::from_millis(100))
        .max_failures(2);
    let job = Slow {
        work: Duration::from_millis(600),
    };
    let run = Coordinator::new(job, config)
        .run(Arc::new(NoopObserver))
        .unwrap();
    assert_eq!(run.outputs, vec![0, 1, 2, 3]);
    assert_eq!(run.stats.failures, 0);
}

/// Subtask 1's first attempt hangs without beating, polling only for cancellation.
struct HangsUntilCancelled {
    attempts: AtomicU32,
    stopped: Arc<AtomicBool>,
}

impl Job for HangsUntilCancelled {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("hangs")
    }
    fn subtasks(&self) -> usize {
        3
    }
    fn run(&self, k: usize, ctx: &TaskContext) -> Result<u64, JobError> {
        // Relaxed: a counter whose own value is all that matters.
        if k == 1 && self.attempts.fetch_add(1, Ordering::Relaxed) == 0 {
            while !ctx.is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            // Release: pairs with the test's Acquire load.
            self.stopped.store(true, Ordering::Release);
            return Err(JobError::Cancelled);
        }
        Ok(k as u64 * 7)
    }
}

#[test]
fn a_hung_subtask_is_replaced_and_the_replaced_run_stops() {
    let stopped = Arc::new(AtomicBool::new(false));
    let job = HangsUntilCancelled {
        attempts: AtomicU32::new(0),
        stopped: Arc::clone(&stopped),
    };
    let config = CoordinatorConfig::new(1)
        .unwrap()
        .snapshot_interval(Duration::from_millis(5))
        .stall_timeout(Duration::from_millis(50));
    let run = Coordinator::new(job, config)
        .run(Arc::new(NoopObserver))
        .unwrap();
    assert_eq!(run.outputs, vec![0, 7, 14]);
    assert_eq!(run.stats.failures, 1);
    // Acquire: pairs with the Release store in the hung run.
    assert!(
        stopped.load(Ordering::Acquire),
        "the replaced run saw the cancellation and stopped before the job ended"
    );
}
