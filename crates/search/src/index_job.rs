//! The indexing job: subtask `k` indexes shard `k`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use snapstate_coordinator::{Fingerprint, Fingerprinter, Job, JobError, JobIdentity, TaskContext};

use crate::corpus::{Corpus, FileRead};
use crate::shard_builder::ShardBuilder;
use crate::shard_index::ShardIndex;
use crate::skip::SkipReason;
use crate::text::decode_into;

/// Indexes a [`Corpus`], one shard per subtask.
///
/// Its [`identity`](Job::identity) is the corpus listing and its sharding; a shard's
/// [`fingerprint`](Job::fingerprint) is the BLAKE3 of exactly what the shard reads: each
/// document's name and the bytes read from it (all of them, or for a file found not to
/// be text, the first [`SNIFF_BYTES`](crate::SNIFF_BYTES) that decided it), or for a
/// file that could not be read, why. Generated documents are fixed by the identity's
/// seed, so they have none.
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

    /// The error that stops a strict run at a file it cannot read.
    fn strict_error(&self, doc: u32, reason: SkipReason, detail: &str) -> JobError {
        JobError::new(format!(
            "cannot index {}: {reason} ({detail}) (--strict; without it the file is \
             skipped with a warning)",
            self.corpus.doc_name(doc)
        ))
    }
}

/// Feeds one document, as read, into a shard's fingerprint.
fn feed(fp: &mut Fingerprinter, name: &str, read: &FileRead, bytes: &[u8]) {
    fp.field(name.as_bytes());
    match read {
        FileRead::Whole | FileRead::NotText => fp.field(&[0]).field(bytes),
        FileRead::Failed(reason, _) => fp.field(&[1]).field(reason.as_str().as_bytes()),
    };
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
        let mut raw = Vec::new();
        for doc in self.corpus.shard(subtask) {
            let Ok(read) = self.corpus.read_file(doc, &mut raw, || Ok::<_, Infallible>(()));
            if let FileRead::Failed(reason, detail) = &read {
                if self.corpus.is_strict() {
                    return Err(self.strict_error(doc, *reason, detail));
                }
            }
            feed(&mut fp, &self.corpus.doc_name(doc), &read, &raw);
        }
        Ok(fp.finish())
    }

    fn fingerprints_in_run(&self) -> bool {
        true
    }

    fn run(&self, subtask: usize, ctx: &TaskContext) -> Result<ShardIndex, JobError> {
        let beat = || ctx.heartbeat().map_err(JobError::from);
        // Slow storage is still alive: the delay beats as it goes.
        let until = Instant::now() + self.delay;
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            beat()?;
            std::thread::sleep(left.min(Duration::from_millis(5)));
        }
        let docs = self.corpus.shard(subtask);
        let mut shard = ShardBuilder::new(docs.clone());
        let files = self.corpus.is_files();
        let mut fp = Fingerprinter::new();
        let (mut raw, mut scratch) = (Vec::new(), String::new());
        for doc in docs {
            beat()?;
            if !files {
                self.corpus.generate(doc, &mut scratch);
                shard.add(&scratch, beat)?;
                continue;
            }
            let read = self.corpus.read_file(doc, &mut raw, beat)?;
            feed(&mut fp, &self.corpus.doc_name(doc), &read, &raw);
            match read {
                FileRead::Whole => match decode_into(&raw, true, &mut scratch) {
                    Some(text) => shard.add(text, beat)?,
                    None => shard.skip(doc, SkipReason::Binary, String::new()),
                },
                FileRead::NotText => shard.skip(doc, SkipReason::Binary, String::new()),
                FileRead::Failed(reason, detail) => {
                    if self.corpus.is_strict() {
                        return Err(self.strict_error(doc, reason, &detail));
                    }
                    shard.skip(doc, reason, detail);
                }
            }
        }
        ctx.record_fingerprint(if files {
            fp.finish()
        } else {
            Fingerprint::NO_INPUT
        });
        Ok(shard.finish())
    }
}
