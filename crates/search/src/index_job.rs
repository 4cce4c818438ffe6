//! The indexing job: subtask `k` indexes shard `k`.

use std::time::{Duration, Instant};

use snapstate_coordinator::{
    Cancelled, Fingerprint, Fingerprinter, Job, JobError, JobIdentity, TaskContext,
};

use crate::corpus::{Corpus, CorpusError};
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

/// Why reading a document stopped: the file, or a cancelled run.
#[derive(Debug)]
enum ReadStop {
    Corpus(CorpusError),
    Cancelled,
}

impl From<CorpusError> for ReadStop {
    fn from(e: CorpusError) -> Self {
        ReadStop::Corpus(e)
    }
}

impl From<Cancelled> for ReadStop {
    fn from(_: Cancelled) -> Self {
        ReadStop::Cancelled
    }
}

impl ReadStop {
    fn into_job_error(self) -> JobError {
        match self {
            ReadStop::Corpus(e) => JobError::other(e),
            ReadStop::Cancelled => JobError::Cancelled,
        }
    }
}

/// The first 16 hex digits of a fingerprint: plenty to tell two listings apart in a
/// message.
fn short(f: Fingerprint) -> String {
    f.to_string()[..16].to_owned()
}

/// Feeds one document into a shard's fingerprint, a megabyte at a time with a `beat`
/// between (the same fingerprint as feeding it whole).
fn feed<E>(
    fp: &mut Fingerprinter,
    name: &str,
    bytes: &[u8],
    mut beat: impl FnMut() -> Result<(), E>,
) -> Result<(), E> {
    fp.field(name.as_bytes());
    fp.update(&(bytes.len() as u64).to_le_bytes());
    for chunk in bytes.chunks(crate::shard_index::HEARTBEAT_BYTES) {
        fp.update(chunk);
        beat()?;
    }
    Ok(())
}

impl Job for IndexJob {
    type Output = ShardIndex;

    /// The corpus as a list of names and its sharding; not the file sizes or contents,
    /// which the shards' fingerprints cover (so an edited file redoes only its shard).
    fn identity(&self) -> JobIdentity {
        let c = &self.corpus;
        let id = JobIdentity::new("snapstate-search-index");
        let id = match (c.root(), c.seed()) {
            (Some(root), _) => {
                let mut names = Fingerprinter::new();
                for d in 0..c.docs() {
                    names.field(c.doc_name(d).as_bytes());
                }
                id.with("input", root.display())
                    .with("files", c.docs())
                    .with("file names", short(names.finish()))
            }
            (None, seed) => id
                .with("input", "generated")
                .with("docs", c.docs())
                .with("corpus seed", seed.unwrap_or_default()),
        };
        let mut bounds = Fingerprinter::new();
        for k in 0..c.shards() {
            bounds.field(&c.shard(k).end.to_le_bytes());
        }
        id.with("shards", c.shards())
            .with("shard bounds", short(bounds.finish()))
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
                .read_raw(doc, &mut raw, &mut text, || Ok::<_, CorpusError>(()))
                .map_err(JobError::other)?;
            feed(&mut fp, &self.corpus.doc_name(doc), &raw, || {
                Ok::<_, JobError>(())
            })?;
        }
        Ok(fp.finish())
    }

    fn fingerprints_in_run(&self) -> bool {
        true
    }

    fn run(&self, subtask: usize, ctx: &TaskContext) -> Result<ShardIndex, JobError> {
        // Slow storage is still alive: the delay beats as it goes.
        let until = Instant::now() + self.delay;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            ctx.heartbeat()?;
            std::thread::sleep(left.min(Duration::from_millis(5)));
        }
        let files = self.corpus.is_files();
        let mut fp = Fingerprinter::new();
        let mut raw = Vec::new();
        let beat = || ctx.heartbeat().map_err(JobError::from);
        let shard = ShardIndex::build_with_heartbeat(
            self.corpus.shard(subtask),
            |doc, text| {
                beat()?;
                self.corpus
                    .read_raw(doc, &mut raw, text, || {
                        ctx.heartbeat().map_err(ReadStop::from)
                    })
                    .map_err(ReadStop::into_job_error)?;
                if files {
                    feed(&mut fp, &self.corpus.doc_name(doc), &raw, beat)?;
                }
                Ok::<_, JobError>(())
            },
            beat,
        )?;
        ctx.record_fingerprint(if files {
            fp.finish()
        } else {
            Fingerprint::NO_INPUT
        });
        Ok(shard)
    }
}
