//! The checkpoint directory's manifest: which job wrote it, in a file a person can read.

use serde::{Deserialize, Serialize};

use crate::identity::JobIdentity;
use crate::plan::Plan;

/// Written once when a directory is first used; checked on every resume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: String,
    pub(crate) version: u32,
    pub(crate) job: JobIdentity,
    /// `job.digest()` in hex: what every other file of the directory is bound to.
    pub(crate) job_digest: String,
    pub(crate) workers: usize,
    pub(crate) subtasks: usize,
}

pub(crate) const FORMAT: &str = "snapstate-checkpoint-dir";
pub(crate) const VERSION: u32 = 2;

impl Manifest {
    pub(crate) fn new(job: &JobIdentity, plan: Plan) -> Self {
        Manifest {
            format: FORMAT.to_owned(),
            version: VERSION,
            job: job.clone(),
            job_digest: job.digest().to_string(),
            workers: plan.nodes,
            subtasks: plan.subtasks,
        }
    }

    /// What differs between this run's manifest (`self`) and the directory's (`found`).
    pub(crate) fn differences(&self, found: &Manifest) -> Vec<String> {
        let mut out = self.job.differences(&found.job);
        if self.workers != found.workers {
            out.push(format!(
                "workers: {} here, {} there",
                self.workers, found.workers
            ));
        }
        if self.subtasks != found.subtasks {
            out.push(format!(
                "subtasks: {} here, {} there",
                self.subtasks, found.subtasks
            ));
        }
        out
    }

    /// A one-line description for "belongs to a different job" errors.
    pub(crate) fn describe(&self) -> String {
        format!(
            "job \"{}\", {} workers, {} subtasks",
            self.job, self.workers, self.subtasks
        )
    }
}
