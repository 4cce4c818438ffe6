//! Running one loom model with an explicit preemption bound, and reporting its cost.
//!
//! Every model passes its own bound, chosen so the model is exhaustive at that bound in
//! well under a minute on this machine. `LOOM_MAX_PREEMPTIONS`, if set, overrides it (to
//! explore deeper by hand). Each run prints one line:
//!
//! ```text
//! loom model trap: preemption bound 2, 1234 iterations, 0.9 s
//! ```
//!
//! (visible with `cargo test -- --nocapture`). `LOOM_LOG`, `LOOM_LOCATION` and
//! `LOOM_CHECKPOINT_FILE` work as in `loom::model`; see the README for replaying a
//! failure.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Prints the failing iteration's number when a model panics.
struct FailureReport<'a> {
    name: &'a str,
    iterations: Arc<AtomicUsize>,
}

impl Drop for FailureReport<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "loom model {} FAILED in iteration {} (replay: README, \"Loom\")",
                self.name,
                // Relaxed: counted on this thread.
                self.iterations.load(Ordering::Relaxed)
            );
        }
    }
}

/// Checks `f` under loom with preemption bound `bound` (unless `LOOM_MAX_PREEMPTIONS`
/// overrides it) and prints the iteration count and time.
///
/// # Panics
///
/// When loom finds an execution in which `f` panics, or a data race, leak or deadlock.
pub fn model<F>(name: &str, bound: usize, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    let from_env = builder.preemption_bound.is_some();
    let bound = *builder.preemption_bound.get_or_insert(bound);
    // A limit, not a cost: loom's default of 1000 scheduling branches per execution is
    // too few for the longer models at bound 3. LOOM_MAX_BRANCHES still overrides it.
    if std::env::var_os("LOOM_MAX_BRANCHES").is_none() {
        builder.max_branches = 20_000;
    }
    let iterations = Arc::new(AtomicUsize::new(0));
    let counter = iterations.clone();
    let start = Instant::now();
    // If loom finds a failure, `check` panics: say which iteration failed, so its path
    // can be saved with LOOM_CHECKPOINT_INTERVAL set to that number (README "Loom").
    let _report = FailureReport {
        name,
        iterations: iterations.clone(),
    };
    // The same subscriber `loom::model` installs, so LOOM_LOG prints the schedule.
    let subscriber = tracing_subscriber::fmt::Subscriber::builder()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("LOOM_LOG"))
        .with_test_writer()
        .without_time()
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        builder.check(move || {
            // Relaxed: a plain count, read after `check` returns on this thread.
            counter.fetch_add(1, Ordering::Relaxed);
            f();
        });
    });
    println!(
        "loom model {name}: preemption bound {bound}{}, {} iterations, {:.1} s",
        if from_env {
            " (from LOOM_MAX_PREEMPTIONS)"
        } else {
            ""
        },
        // Relaxed: as above.
        iterations.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
}
