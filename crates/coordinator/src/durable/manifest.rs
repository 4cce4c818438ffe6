//! The checkpoint directory's manifest: which job wrote it.

use serde::{Deserialize, Serialize};

/// Written once when a directory is first used; checked on every resume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: String,
    pub(crate) version: u32,
    pub(crate) job: String,
    pub(crate) workers: usize,
    pub(crate) subtasks: usize,
}

pub(crate) const FORMAT: &str = "snapstate-checkpoint-dir";
pub(crate) const VERSION: u32 = 1;

impl Manifest {
    pub(crate) fn new(job: &str, workers: usize, subtasks: usize) -> Self {
        Manifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            job: job.to_owned(),
            workers,
            subtasks,
        }
    }

    /// A one-line description for "belongs to a different job" errors.
    pub(crate) fn describe(&self) -> String {
        format!(
            "job \"{}\", {} workers, {} subtasks",
            self.job, self.workers, self.subtasks
        )
    }
}
