//! The indexing job: subtask `k` indexes shard `k`.

use std::time::Duration;

use snapstate_coordinator::{Fingerprint, Fingerprinter, Job, JobError, JobIdentity, TaskContext};

use crate::corpus::Corpus;
use crate::shard_index::ShardIndex;

/// Indexes a [`Corpus`], one shard per subtask.
///
/// Its [`identity`](Job::identity) is the corpus listing and its sharding; a shard's
/// [`fingerprint`](Job::fingerprint) is the BLAKE3 of its documents' names and bytes
/// (generated documents are fixed by the identity's seed, so they have none).
///
/// # Examples
///
/// ```
/// use snapstate_search::{Corpus, IndexJob};
/// use snapstate_coordinator::{Job, TaskContext};
///
/// let job = IndexJob::new(Corpus::generated(50, 5, 1));
/// assert_eq!(job.subtasks(), 5);
/// let shard = job.run(0, &TaskContext::detached(0)).unwrap();
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

    /// The corpus.
    pub fn corpus(&self) -> &Corpus {
        &self.corpus
    }
}

/// Feeds one document into a shard's fingerprint.
fn feed(fp: &mut Fingerprinter, name: &str, bytes: &[u8]) {
    fp.field(name.as_bytes()).field(bytes);
}

impl Job for IndexJob {
    type Output = ShardIndex;

    fn identity(&self) -> JobIdentity {
        JobIdentity::new("snapstate-search-index").with("corpus", self.corpus.identity())
    }

    fn subtasks(&self) -> usize {
        self.corpus.shards()
    }

    fn fingerprint(&self, subtask: usize) -> Result<Fingerprint, JobError> {
        if !self.corpus.is_files() {
            return Ok(Fingerprint::NO_INPUT);
        }
        let mut fp = Fingerprinter::new();
        let (mut raw, mut text) = (Vec::new(), String::new());
        for doc in self.corpus.shard(subtask) {
            self.corpus
                .read_raw(doc, &mut raw, &mut text)
                .map_err(JobError::other)?;
            feed(&mut fp, &self.corpus.doc_name(doc), &raw);
        }
        Ok(fp.finish())
    }

    fn fingerprints_in_run(&self) -> bool {
        true
    }

    fn run(&self, subtask: usize, ctx: &TaskContext) -> Result<ShardIndex, JobError> {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        let files = self.corpus.is_files();
        let mut fp = Fingerprinter::new();
        let mut raw = Vec::new();
        let shard = ShardIndex::build(self.corpus.shard(subtask), |doc, text| {
            ctx.heartbeat()?;
            self.corpus
                .read_raw(doc, &mut raw, text)
                .map_err(JobError::other)?;
            if files {
                feed(&mut fp, &self.corpus.doc_name(doc), &raw);
            }
            Ok::<_, JobError>(())
        })?;
        ctx.record_fingerprint(if files {
            fp.finish()
        } else {
            Fingerprint::NO_INPUT
        });
        Ok(shard)
    }
}
