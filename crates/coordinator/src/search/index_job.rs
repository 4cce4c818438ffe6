//! The indexing job: subtask `k` indexes shard `k`.

use std::time::Duration;

use crate::job::{Cancel, Job, JobError};
use crate::search::corpus::Corpus;
use crate::search::shard_index::ShardIndex;

/// Indexes a [`Corpus`], one shard per subtask.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::search::{Corpus, IndexJob};
/// use snapstate_coordinator::{Cancel, Job};
///
/// let job = IndexJob::new(Corpus::generated(50, 5, 1));
/// assert_eq!(job.subtasks(), 5);
/// let shard = job.run(0, &Cancel::default()).unwrap();
/// assert_eq!(shard.docs, 0..10);
/// ```
#[derive(Clone, Debug)]
pub struct IndexJob {
    corpus: Corpus,
    delay: Duration,
}

impl IndexJob {
    /// The job of indexing `corpus`.
    pub fn new(corpus: Corpus) -> Self {
        IndexJob {
            corpus,
            delay: Duration::ZERO,
        }
    }

    /// Adds `delay` to every subtask, to simulate slow storage (and make a run long
    /// enough to watch or to kill).
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

impl Job for IndexJob {
    type Output = ShardIndex;

    fn subtasks(&self) -> usize {
        self.corpus.shards()
    }

    fn run(&self, subtask: usize, cancel: &Cancel) -> Result<ShardIndex, JobError> {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        ShardIndex::build(self.corpus.shard(subtask), |doc, text| {
            if cancel.is_cancelled() {
                // The worker was replaced: stop reading; the output is thrown away.
                text.clear();
                return Ok(());
            }
            self.corpus
                .read(doc, text)
                .map_err(|e| JobError::new(e.to_string()))
        })
    }
}
