//! What the coordinator and worker processes print: one line per thing they do, on
//! stderr, each stamped with the wall-clock time in milliseconds (so the lines of
//! several processes can be put in order, and the tests can time failovers).

use std::time::{SystemTime, UNIX_EPOCH};

/// Prints a process's lines, prefixed with its role and job.
///
/// # Examples
///
/// ```
/// let log = snapstate_cluster::Log::new("worker", "index-1");
/// log.say("claimed node 3 (epoch 42)");
/// ```
#[derive(Clone, Debug)]
pub struct Log {
    prefix: String,
    quiet: bool,
}

impl Log {
    /// A log for `role` (`coordinator`, `worker`) of job `job`.
    pub fn new(role: &str, job: &str) -> Self {
        Log {
            prefix: format!("snapstate {role} [{job}]"),
            quiet: false,
        }
    }

    /// The same log, printing nothing (for benches and in-process tests).
    #[must_use]
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// The current wall-clock time in milliseconds since the Unix epoch.
    pub fn now_ms() -> u128 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    }

    /// Prints one line.
    pub fn say(&self, message: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("[{}] {}: {message}", Self::now_ms(), self.prefix);
        }
    }
}
