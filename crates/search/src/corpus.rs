//! The documents to index, split into shards: one subtask per shard.

use std::fs;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::generate::Vocabulary;
use crate::shard_index::HEARTBEAT_BYTES;
use crate::skip::{SkipReason, Skipped};
use crate::text::{sniff, Sniff, SNIFF_BYTES};
use crate::walk::{display_name, walk, Listing, WalkError, WalkOptions};

/// A corpus of documents numbered `0..docs()`, in `shards()` contiguous shards.
///
/// A directory's documents are the files its walk found (see [`WalkOptions`]); whether
/// each is text is decided when it is read, so some may turn out not to be indexed.
/// Cloning is cheap (the listing is shared).
///
/// # Examples
///
/// ```
/// use snapstate_search::Corpus;
///
/// let corpus = Corpus::generated(100, 8, 7);
/// assert_eq!(corpus.docs(), 100);
/// assert_eq!(corpus.shards(), 8);
/// assert_eq!(corpus.shard(0), 0..12);
/// assert_eq!(corpus.doc_name(3), "generated/doc-000003");
/// ```
#[derive(Clone, Debug)]
pub struct Corpus(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    source: Source,
    /// Shard `k` is documents `bounds[k]..bounds[k + 1]`.
    bounds: Vec<u32>,
    /// What the documents are; independent of the sharding and of where they are.
    description: String,
    /// Files the walk left out, in name order.
    skipped: Vec<Skipped>,
    strict: bool,
}

#[derive(Debug)]
enum Source {
    Generated {
        seed: u64,
        vocabulary: Vocabulary,
    },
    Files {
        /// The input directory, canonicalised.
        root: PathBuf,
        files: Vec<FileDoc>,
    },
}

#[derive(Debug)]
struct FileDoc {
    /// Path relative to the corpus root, with `/` separators: the document's name.
    name: String,
    path: PathBuf,
    len: u64,
}

/// Why a directory could not be used as a corpus.
///
/// # Examples
///
/// ```
/// use snapstate_search::{Corpus, CorpusError};
///
/// let err = Corpus::from_dir("/no/such/dir", 4).unwrap_err();
/// assert!(matches!(err, CorpusError::NotFound(_)));
/// assert_eq!(err.to_string(), "input directory /no/such/dir does not exist");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CorpusError {
    /// The directory does not exist.
    #[error("input directory {} does not exist", .0.display())]
    NotFound(PathBuf),
    /// The path is not a directory.
    #[error("input {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The directory, or a file in it, could not be read.
    #[error("cannot read {}", path.display())]
    Unreadable {
        /// What could not be read.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// No files were found.
    #[error(
        "input directory {} holds no text files to index (hidden and ignored files are \
         left out: see --hidden, --no-ignore, --glob)",
        .0.display()
    )]
    Empty(PathBuf),
    /// More documents than the index can number.
    #[error("input directory {} holds more than {} files", .0.display(), u32::MAX)]
    TooLarge(PathBuf),
    /// A `--glob` pattern does not parse.
    #[error("bad --glob {glob:?}")]
    Glob {
        /// The pattern.
        glob: String,
        /// What is wrong with it.
        #[source]
        source: ignore::Error,
    },
    /// Under `--strict`, a file that would have been skipped with a warning.
    #[error("cannot index {0} (--strict; without it the file is skipped with a warning)")]
    Strict(Skipped),
}

/// How reading a file went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FileRead {
    /// All its bytes are in the buffer.
    Whole,
    /// Its first bytes show it is not text; only they were read.
    NotText,
    /// It could not be read; the buffer holds nothing meaningful.
    Failed(SkipReason, String),
}

impl Corpus {
    /// A generated corpus of `docs` documents in `shards` shards (at least 1, at most
    /// `docs`), fully determined by `seed`.
    pub fn generated(docs: u32, shards: usize, seed: u64) -> Self {
        let bounds = even_bounds(docs, shards);
        Corpus(Arc::new(Inner {
            description: format!("generated corpus: {docs} docs, seed {seed}"),
            source: Source::Generated {
                seed,
                vocabulary: Vocabulary::new(seed),
            },
            bounds,
            skipped: Vec::new(),
            strict: false,
        }))
    }

    /// The files under `dir`, walked with the default [`WalkOptions`], in about
    /// `shards` shards of similar byte size.
    ///
    /// # Errors
    ///
    /// As [`from_dir_with`](Self::from_dir_with).
    pub fn from_dir(dir: impl AsRef<Path>, shards: usize) -> Result<Self, CorpusError> {
        Self::from_dir_with(dir, shards, &WalkOptions::new())
    }

    /// The files under `dir` as `options` walk it (in path order, by bytes), in about
    /// `shards` shards of similar byte size. Nothing is read yet but directories and
    /// metadata.
    ///
    /// # Errors
    ///
    /// A [`CorpusError`] if `dir` is missing, not a directory or unreadable, a glob is
    /// bad, no file is found, or (with [`WalkOptions::strict`]) a file has a problem.
    ///
    /// # Examples
    ///
    /// ```
    /// use snapstate_search::{Corpus, SkipReason, WalkOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.md"), "alpha")?;
    /// std::fs::write(dir.path().join("b.txt"), "beta")?;
    /// let corpus = Corpus::from_dir_with(dir.path(), 4, &WalkOptions::new().glob("*.md"))?;
    /// assert_eq!(corpus.docs(), 1);
    /// assert_eq!(corpus.skipped()[0].reason, SkipReason::Glob);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_dir_with(
        dir: impl AsRef<Path>,
        shards: usize,
        options: &WalkOptions,
    ) -> Result<Self, CorpusError> {
        let root = dir.as_ref();
        match fs::metadata(root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CorpusError::NotFound(root.to_owned()))
            }
            Err(source) => {
                return Err(CorpusError::Unreadable {
                    path: root.to_owned(),
                    source,
                })
            }
            Ok(m) if !m.is_dir() => return Err(CorpusError::NotADirectory(root.to_owned())),
            Ok(_) => {}
        }
        if let Err(source) = fs::read_dir(root) {
            return Err(CorpusError::Unreadable {
                path: root.to_owned(),
                source,
            });
        }
        let listing = walk(root, options).map_err(|e| match e {
            WalkError::Glob(glob, source) => CorpusError::Glob { glob, source },
        })?;
        let Listing { files, skipped } = listing;
        if options.is_strict() {
            if let Some(problem) = skipped.iter().find(|s| s.reason.is_problem()) {
                return Err(CorpusError::Strict(problem.clone()));
            }
        }
        let files: Vec<FileDoc> = files
            .into_iter()
            .map(|f| FileDoc {
                name: display_name(&f.key),
                path: f.path,
                len: f.len,
            })
            .collect();
        if files.is_empty() {
            return Err(CorpusError::Empty(root.to_owned()));
        }
        let count =
            u32::try_from(files.len()).map_err(|_| CorpusError::TooLarge(root.to_owned()))?;
        let bounds = byte_bounds(&files, shards);
        let mut names = blake3::Hasher::new();
        let mut bytes = 0;
        for f in &files {
            names.update(&(f.name.len() as u64).to_le_bytes());
            names.update(f.name.as_bytes());
            names.update(&f.len.to_le_bytes());
            bytes += f.len;
        }
        let digest = names.finalize();
        let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
        Ok(Corpus(Arc::new(Inner {
            description: format!(
                "directory of {count} files, {bytes} bytes, listing {}",
                &digest.to_hex()[..16],
            ),
            source: Source::Files { root, files },
            bounds,
            skipped,
            strict: options.is_strict(),
        })))
    }

    /// The number of documents.
    pub fn docs(&self) -> u32 {
        self.0.bounds.last().copied().unwrap_or(0)
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.0.bounds.len() - 1
    }

    /// The documents of shard `k`.
    ///
    /// # Panics
    ///
    /// If `k >= shards()`.
    pub fn shard(&self, k: usize) -> Range<u32> {
        self.0.bounds[k]..self.0.bounds[k + 1]
    }

    /// What the documents are, in one line (the sharding aside): for a directory, how
    /// many files, their bytes and a hash of their names and sizes, but not where the
    /// directory is. Stored in the index, so the same documents give the same index
    /// however they were sharded and wherever they are.
    pub fn description(&self) -> &str {
        &self.0.description
    }

    /// The description plus the sharding: what a checkpoint directory's subtasks mean.
    ///
    /// # Examples
    ///
    /// ```
    /// let corpus = snapstate_search::Corpus::generated(10, 2, 1);
    /// assert_eq!(corpus.identity(), "generated corpus: 10 docs, seed 1; 2 shards");
    /// ```
    pub fn identity(&self) -> String {
        format!("{}; {} shards", self.0.description, self.shards())
    }

    /// The name of document `doc`: its path under the input directory (`/`-separated;
    /// a byte of the path that is not UTF-8 is written `\xNN`), or
    /// `generated/doc-NNNNNN`.
    pub fn doc_name(&self, doc: u32) -> String {
        match &self.0.source {
            Source::Generated { .. } => format!("generated/doc-{doc:06}"),
            Source::Files { files, .. } => files[doc as usize].name.clone(),
        }
    }

    /// The files the walk left out, in name order (more may be left out when read:
    /// see [`InvertedIndex::skipped`](crate::InvertedIndex::skipped)).
    pub fn skipped(&self) -> &[Skipped] {
        &self.0.skipped
    }

    /// The input directory (canonicalised), or `None` for a generated corpus.
    pub fn root(&self) -> Option<&Path> {
        match &self.0.source {
            Source::Files { root, .. } => Some(root),
            Source::Generated { .. } => None,
        }
    }

    /// The generated corpus's seed, or `None` for files.
    pub fn seed(&self) -> Option<u64> {
        match &self.0.source {
            Source::Generated { seed, .. } => Some(*seed),
            Source::Files { .. } => None,
        }
    }

    /// Whether problems with files are errors rather than skips.
    pub fn is_strict(&self) -> bool {
        self.0.strict
    }

    /// The text of document `doc` as it is indexed, or `None` if it is not text (see
    /// [`decode_text`](crate::decode_text)).
    ///
    /// # Errors
    ///
    /// [`CorpusError::Unreadable`] if its file cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// let corpus = snapstate_search::Corpus::generated(3, 1, 1);
    /// assert!(!corpus.text(2)?.unwrap().is_empty());
    /// # Ok::<(), snapstate_search::CorpusError>(())
    /// ```
    pub fn text(&self, doc: u32) -> Result<Option<String>, CorpusError> {
        match &self.0.source {
            Source::Generated { .. } => {
                let mut out = String::new();
                self.generate(doc, &mut out);
                Ok(Some(out))
            }
            Source::Files { files, .. } => {
                let path = &files[doc as usize].path;
                let bytes = fs::read(path).map_err(|source| CorpusError::Unreadable {
                    path: path.clone(),
                    source,
                })?;
                Ok(crate::text::decode_text(&bytes).map(|t| t.into_owned()))
            }
        }
    }

    /// Whether the documents are files (so a shard's fingerprint is their content).
    pub(crate) fn is_files(&self) -> bool {
        matches!(self.0.source, Source::Files { .. })
    }

    /// Writes generated document `doc` into `out` (nothing for a directory).
    pub(crate) fn generate(&self, doc: u32, out: &mut String) {
        out.clear();
        if let Source::Generated { seed, vocabulary } = &self.0.source {
            vocabulary.document(*seed, doc, out);
        }
    }

    /// Reads file `doc` into `raw` (replacing its contents) in one pass: its first
    /// [`SNIFF_BYTES`], and the rest only if those look like text, calling `beat` after
    /// each [`HEARTBEAT_BYTES`] read. An error from `beat` stops the read.
    pub(crate) fn read_file<E>(
        &self,
        doc: u32,
        raw: &mut Vec<u8>,
        mut beat: impl FnMut() -> Result<(), E>,
    ) -> Result<FileRead, E> {
        raw.clear();
        let Source::Files { files, .. } = &self.0.source else {
            return Ok(FileRead::Whole);
        };
        let failed = |e: io::Error| {
            let reason = if e.kind() == io::ErrorKind::NotFound {
                SkipReason::Vanished
            } else {
                SkipReason::Unreadable
            };
            FileRead::Failed(reason, e.to_string())
        };
        let mut file = match fs::File::open(&files[doc as usize].path) {
            Ok(f) => f,
            Err(e) => return Ok(failed(e)),
        };
        // The size now, as a hint: the file is read to its end whatever it is.
        let hint = file.metadata().map_or(0, |m| m.len() as usize);
        let mut sniffed = false;
        let mut chunk = hint.saturating_add(1).min(SNIFF_BYTES);
        loop {
            let n = match fill(&mut file, raw, chunk) {
                Ok(n) => n,
                Err(e) => return Ok(failed(e)),
            };
            let end = n < chunk;
            if !sniffed && (end || raw.len() >= SNIFF_BYTES) {
                sniffed = true;
                if sniff(raw) == Sniff::Binary {
                    return Ok(FileRead::NotText);
                }
            }
            if end {
                return Ok(FileRead::Whole);
            }
            beat()?;
            chunk = if raw.len() < SNIFF_BYTES {
                SNIFF_BYTES - raw.len()
            } else if raw.len() <= hint {
                (hint - raw.len() + 1).min(HEARTBEAT_BYTES)
            } else {
                HEARTBEAT_BYTES // it has grown since
            };
        }
    }
}

/// Appends up to `limit` bytes from `file` to `raw`, stopping early only at the end of
/// the file; returns how many it read. (`read_to_end` on a `Take` reads into the
/// vector's spare capacity without zeroing it first.)
fn fill(file: &mut fs::File, raw: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
    raw.reserve(limit);
    file.take(limit as u64).read_to_end(raw)
}

fn even_bounds(docs: u32, shards: usize) -> Vec<u32> {
    let shards = shards.clamp(1, (docs as usize).max(1)) as u64;
    (0..=shards)
        .map(|k| (u64::from(docs) * k / shards) as u32)
        .collect()
}

/// Cuts where the running byte total crosses each `k / shards` of the whole, so shards
/// hold similar bytes; never an empty shard.
fn byte_bounds(files: &[FileDoc], shards: usize) -> Vec<u32> {
    let total: u64 = files.iter().map(|f| f.len.max(1)).sum();
    let shards = shards.clamp(1, files.len()) as u64;
    let mut bounds = vec![0u32];
    let mut acc = 0u64;
    for (i, f) in files.iter().enumerate() {
        acc += f.len.max(1);
        let next = bounds.len() as u64;
        if i + 1 < files.len() && acc * shards >= total * next {
            bounds.push(i as u32 + 1);
        }
    }
    bounds.push(files.len() as u32);
    bounds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_shards_cover_every_doc() {
        for (docs, shards) in [(10, 3), (3, 10), (0, 4), (1000, 64)] {
            let c = Corpus::generated(docs, shards, 1);
            let mut next = 0;
            for k in 0..c.shards() {
                let r = c.shard(k);
                assert_eq!(r.start, next);
                next = r.end;
            }
            assert_eq!(next, docs);
        }
    }

    #[test]
    fn bad_directories_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Corpus::from_dir(dir.path(), 4),
            Err(CorpusError::Empty(_))
        ));
        let file = dir.path().join("f");
        fs::write(&file, "x").unwrap();
        assert!(matches!(
            Corpus::from_dir(&file, 4),
            Err(CorpusError::NotADirectory(_))
        ));
        let bad = Corpus::from_dir_with(dir.path(), 4, &WalkOptions::new().glob("a[")).unwrap_err();
        assert!(matches!(bad, CorpusError::Glob { .. }), "{bad}");
    }
}
