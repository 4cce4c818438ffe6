//! The indexing job: subtask `k` indexes shard `k`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use snapstate_coordinator::{Fingerprint, Fingerprinter, Job, JobError, JobIdentity, TaskContext};

use crate::corpus::{Corpus, FileRead};
use crate::shard_builder::ShardBuilder;
use crate::shard_index::{ShardIndex, HEARTBEAT_BYTES};
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

/// The first 16 hex digits of a fingerprint: plenty to tell two listings apart in a
/// message.
fn short(f: Fingerprint) -> String {
    f.to_string()[..16].to_owned()
}

/// Feeds one document, as read, into a shard's fingerprint: its name, then the bytes
/// read (a megabyte at a time, with a `beat` between) or why it could not be read.
fn feed<E>(
    fp: &mut Fingerprinter,
    name: &str,
    read: &FileRead,
    bytes: &[u8],
    mut beat: impl FnMut() -> Result<(), E>,
) -> Result<(), E> {
    fp.field(name.as_bytes());
    match read {
        FileRead::Whole | FileRead::NotText => {
            fp.update(&[0]).update(&(bytes.len() as u64).to_le_bytes());
            for (i, chunk) in bytes.chunks(HEARTBEAT_BYTES).enumerate() {
                if i > 0 {
                    beat()?;
                }
                fp.update(chunk);
            }
        }
        FileRead::Failed(reason, _) => {
            fp.update(&[1]).field(reason.as_str().as_bytes());
        }
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
        let mut raw = Vec::new();
        for doc in self.corpus.shard(subtask) {
            let Ok(read) = self
                .corpus
                .read_file(doc, &mut raw, || Ok::<_, Infallible>(()));
            if let FileRead::Failed(reason, detail) = &read {
                if self.corpus.is_strict() {
                    return Err(self.strict_error(doc, *reason, detail));
                }
            }
            let Ok(()) = feed(&mut fp, &self.corpus.doc_name(doc), &read, &raw, || {
                Ok::<_, Infallible>(())
            });
        }
        Ok(fp.finish())
    }

    /// A shard run hashes the bytes it reads, when the context asks for the fingerprint
    /// (a run without a checkpoint keeps none, and hashing costs about a tenth of the
    /// indexing).
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
        let hash = files && ctx.wants_fingerprint();
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
            if hash {
                feed(&mut fp, &self.corpus.doc_name(doc), &read, &raw, beat)?;
            }
            match read {
                FileRead::Whole => match decode_into(&raw, true, &mut scratch, beat)? {
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
        if !files && ctx.wants_fingerprint() {
            ctx.record_fingerprint(Fingerprint::NO_INPUT);
        } else if hash {
            ctx.record_fingerprint(fp.finish());
        }
        Ok(shard.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shard run records exactly what `fingerprint` computes, and only when the
    /// context asks for it; an edit to one file changes its shard's fingerprint only.
    #[test]
    fn a_run_records_the_fingerprint_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..6 {
            std::fs::write(
                dir.path().join(format!("f{i}.txt")),
                format!("word{i} text\n"),
            )
            .unwrap();
        }
        let job = IndexJob::new(Corpus::from_dir(dir.path(), 3).unwrap());
        let before: Vec<_> = (0..3).map(|k| job.fingerprint(k).unwrap()).collect();
        for (k, &expected) in before.iter().enumerate() {
            let asked = TaskContext::detached(k).with_fingerprint(true);
            job.run(k, &asked).unwrap();
            assert_eq!(asked.recorded_fingerprint(), Some(expected), "shard {k}");
            let not_asked = TaskContext::detached(k);
            job.run(k, &not_asked).unwrap();
            assert_eq!(not_asked.recorded_fingerprint(), None, "shard {k}");
        }
        // Same length, other bytes: only the shard holding f0 changes.
        std::fs::write(dir.path().join("f0.txt"), "wordX text\n").unwrap();
        let after: Vec<_> = (0..3).map(|k| job.fingerprint(k).unwrap()).collect();
        assert_eq!(before.iter().zip(&after).filter(|(a, b)| a != b).count(), 1);
    }
}
