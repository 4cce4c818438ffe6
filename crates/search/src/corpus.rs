//! The documents to index, split into shards: one subtask per shard.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::checksum::Fnv64;
use crate::generate::Vocabulary;

/// A corpus of documents numbered `0..docs()`, in `shards()` contiguous shards.
///
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
    /// What the documents are; independent of the sharding.
    description: String,
    /// Files the walk left out, by reason.
    skipped: BTreeMap<&'static str, u64>,
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
    /// A directory or file could not be read.
    #[error("cannot read {}", path.display())]
    Unreadable {
        /// What could not be read.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// No text files were found.
    #[error("input directory {} holds no text files", .0.display())]
    Empty(PathBuf),
    /// More documents than the index can number.
    #[error("input directory {} holds more than {} files", .0.display(), u32::MAX)]
    TooLarge(PathBuf),
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
            skipped: BTreeMap::new(),
            bounds,
        }))
    }

    /// Every non-hidden regular file under `dir` (recursively, in path order), in about
    /// `shards` shards of similar byte size. Files that look binary (a NUL byte in the
    /// first 8 KiB) are skipped.
    ///
    /// # Errors
    ///
    /// A [`CorpusError`] if `dir` is missing, not a directory, has an unreadable entry, or
    /// holds no text files.
    pub fn from_dir(dir: impl AsRef<Path>, shards: usize) -> Result<Self, CorpusError> {
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
        let mut files = Vec::new();
        let mut skipped = BTreeMap::new();
        walk(root, "", &mut files, &mut skipped)?;
        files.sort_by(|a, b| a.name.cmp(&b.name));
        if files.is_empty() {
            return Err(CorpusError::Empty(root.to_owned()));
        }
        let count =
            u32::try_from(files.len()).map_err(|_| CorpusError::TooLarge(root.to_owned()))?;
        let bounds = byte_bounds(&files, shards);
        let mut listing = Fnv64::new();
        let mut bytes = 0;
        for f in &files {
            listing.write(f.name.as_bytes());
            listing.write(&f.len.to_le_bytes());
            bytes += f.len;
        }
        let abs = fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
        Ok(Corpus(Arc::new(Inner {
            description: format!(
                "directory {}: {count} files, {bytes} bytes, listing {:016x}",
                abs.display(),
                listing.finish(),
            ),
            source: Source::Files {
                root: abs.clone(),
                files,
            },
            skipped,
            bounds,
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

    /// What the documents are, in one line (the sharding aside). Stored in the index, so
    /// the same documents give the same index however they were sharded.
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

    /// The name of document `doc`: its path under the input directory, or
    /// `generated/doc-NNNNNN`.
    pub fn doc_name(&self, doc: u32) -> String {
        match &self.0.source {
            Source::Generated { .. } => format!("generated/doc-{doc:06}"),
            Source::Files { files, .. } => files[doc as usize].name.clone(),
        }
    }

    /// The text of document `doc` (invalid UTF-8 replaced).
    ///
    /// # Errors
    ///
    /// [`CorpusError::Unreadable`] if its file cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// let corpus = snapstate_search::Corpus::generated(3, 1, 1);
    /// assert!(!corpus.text(2)?.is_empty());
    /// # Ok::<(), snapstate_search::CorpusError>(())
    /// ```
    pub fn text(&self, doc: u32) -> Result<String, CorpusError> {
        let mut out = String::new();
        self.read(doc, &mut out)?;
        Ok(out)
    }

    /// Reads document `doc` into `out` (invalid UTF-8 replaced).
    pub(crate) fn read(&self, doc: u32, out: &mut String) -> Result<(), CorpusError> {
        let mut raw = Vec::new();
        self.read_raw(doc, &mut raw, out, || Ok(()))
    }

    /// Files under the input directory that were left out, by reason ("hidden",
    /// "binary", "dangling link", ...).
    pub fn skipped(&self) -> &BTreeMap<&'static str, u64> {
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

    /// Whether the documents are files (so a shard's fingerprint is their content).
    pub(crate) fn is_files(&self) -> bool {
        matches!(self.0.source, Source::Files { .. })
    }

    /// Reads document `doc` into `text` (invalid UTF-8 replaced), leaving a file's bytes
    /// as read in `raw` (generated documents leave `raw` empty). Calls `beat` after each
    /// [`HEARTBEAT_BYTES`](crate::shard_index::HEARTBEAT_BYTES) read; its error stops
    /// the read.
    pub(crate) fn read_raw<E: From<CorpusError>>(
        &self,
        doc: u32,
        raw: &mut Vec<u8>,
        text: &mut String,
        mut beat: impl FnMut() -> Result<(), E>,
    ) -> Result<(), E> {
        raw.clear();
        match &self.0.source {
            Source::Generated { seed, vocabulary } => {
                vocabulary.document(*seed, doc, text);
                Ok(())
            }
            Source::Files { files, .. } => {
                let f = &files[doc as usize];
                let unreadable = |source| CorpusError::Unreadable {
                    path: f.path.clone(),
                    source,
                };
                let mut file = fs::File::open(&f.path).map_err(unreadable)?;
                let step = crate::shard_index::HEARTBEAT_BYTES as u64;
                loop {
                    let n = (&mut file)
                        .take(step)
                        .read_to_end(raw)
                        .map_err(unreadable)?;
                    if n == 0 {
                        break;
                    }
                    beat()?;
                }
                text.clear();
                text.reserve(raw.len());
                // Converted a piece at a time, with a beat between pieces (a huge file
                // takes a while). Each cut is before a byte that does not continue a
                // character, so no character or invalid sequence spans a cut and the
                // text is exactly that of converting the whole at once.
                let mut at = 0;
                while at < raw.len() {
                    let mut cut = (at + step as usize).min(raw.len());
                    while cut < raw.len() && cut > at && raw[cut] & 0xc0 == 0x80 {
                        cut -= 1;
                    }
                    if cut == at {
                        cut = (at + step as usize).min(raw.len());
                    }
                    text.push_str(&String::from_utf8_lossy(&raw[at..cut]));
                    at = cut;
                    if at < raw.len() {
                        beat()?;
                    }
                }
                Ok(())
            }
        }
    }
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

fn walk(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<FileDoc>,
    skipped: &mut BTreeMap<&'static str, u64>,
) -> Result<(), CorpusError> {
    fn skip(skipped: &mut BTreeMap<&'static str, u64>, why: &'static str) {
        *skipped.entry(why).or_default() += 1;
    }
    let unreadable = |path: &Path| {
        let path = path.to_owned();
        move |source| CorpusError::Unreadable { path, source }
    };
    for entry in fs::read_dir(dir).map_err(unreadable(dir))? {
        let entry = entry.map_err(unreadable(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            skip(skipped, "name not UTF-8");
            continue;
        };
        if name.starts_with('.') {
            skip(skipped, "hidden");
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(unreadable(&path))?;
        let rel = format!("{prefix}{name}");
        if kind.is_dir() {
            walk(&path, &format!("{rel}/"), out, skipped)?;
        } else if kind.is_file() || kind.is_symlink() {
            let meta = match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => meta,
                // A symlink to a directory (never followed: no loops) or to nothing.
                Ok(_) => {
                    skip(skipped, "link to a directory");
                    continue;
                }
                Err(e) if kind.is_symlink() && e.kind() == io::ErrorKind::NotFound => {
                    skip(skipped, "dangling link");
                    continue;
                }
                Err(e) => return Err(unreadable(&path)(e)),
            };
            let mut head = [0u8; 8192];
            let n = fs::File::open(&path)
                .and_then(|mut f| f.read(&mut head))
                .map_err(unreadable(&path))?;
            if head[..n].contains(&0) {
                skip(skipped, "binary");
                continue;
            }
            out.push(FileDoc {
                name: rel,
                path,
                len: meta.len(),
            });
        }
    }
    Ok(())
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
    fn directory_listing_is_sorted_sharded_and_skips_binary_and_hidden() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("b.txt"), "beta ".repeat(100)).unwrap();
        fs::write(dir.path().join("a.txt"), "alpha").unwrap();
        fs::write(dir.path().join("sub/c.md"), "gamma").unwrap();
        fs::write(dir.path().join(".hidden"), "no").unwrap();
        fs::write(dir.path().join("bin.dat"), b"x\0y").unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("nowhere", dir.path().join("dangling")).unwrap();
            std::os::unix::fs::symlink("sub", dir.path().join("loop")).unwrap();
        }
        let c = Corpus::from_dir(dir.path(), 8).unwrap();
        assert_eq!(c.docs(), 3);
        let names: Vec<_> = (0..3).map(|d| c.doc_name(d)).collect();
        assert_eq!(names, ["a.txt", "b.txt", "sub/c.md"]);
        assert!(c.shards() >= 2 && c.shards() <= 3);
        let mut text = String::new();
        c.read(2, &mut text).unwrap();
        assert_eq!(text, "gamma");
        let skipped: Vec<_> = c.skipped().iter().map(|(k, v)| (*k, *v)).collect();
        let mut want = vec![("binary", 1), ("hidden", 1)];
        #[cfg(unix)]
        want.extend([("dangling link", 1), ("link to a directory", 1)]);
        want.sort();
        assert_eq!(skipped, want);
    }

    #[test]
    fn a_large_file_is_converted_as_a_whole_would_be() {
        let dir = tempfile::tempdir().unwrap();
        // Multi-byte characters and invalid bytes straddling every 1 MiB boundary.
        let mut bytes = Vec::new();
        while bytes.len() < 3 << 20 {
            bytes.extend_from_slice("größe ".as_bytes());
            bytes.extend_from_slice(&[0xe2, 0x82, b' ', 0xff, b'x', 0xc3]);
        }
        fs::write(dir.path().join("big.txt"), &bytes).unwrap();
        let c = Corpus::from_dir(dir.path(), 1).unwrap();
        let (mut raw, mut text) = (Vec::new(), String::new());
        let mut beats = 0;
        c.read_raw(0, &mut raw, &mut text, || {
            beats += 1;
            Ok::<_, CorpusError>(())
        })
        .unwrap();
        assert_eq!(raw, bytes);
        assert_eq!(text, String::from_utf8_lossy(&bytes));
        assert!(beats >= 4, "{beats} beats");
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
    }
}
