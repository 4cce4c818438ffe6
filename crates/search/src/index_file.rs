//! The index on disk: written atomically, read back with its checksum verified.
//!
//! Layout of `index.snapidx`: the magic `SNAPIDX1`; the corpus description; varint counts
//! of documents, terms, postings, tokens and bytes; each document name; each term (in byte
//! order) with its posting count and a length-prefixed block of (document-id delta, count)
//! varints; then FNV-1a 64 of all the preceding bytes, little-endian. That trailer is
//! the index's checksum. Nothing in the file depends on timing or on failures, so the same
//! corpus gives the same bytes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::checksum::fnv1a64;
use crate::codec::{put_bytes, put_varint, DecodeError, Reader};
use crate::index::{IndexStats, InvertedIndex};
use crate::shard_index::Posting;
use crate::tokenize::tokenize;
use snapstate_coordinator::write_atomic;

/// The index's file name inside the output directory.
pub const INDEX_FILE: &str = "index.snapidx";
const MAGIC: &[u8; 8] = b"SNAPIDX1";

/// Why an index could not be written or read.
///
/// # Examples
///
/// ```
/// use snapstate_search::{IndexFile, IndexFileError};
///
/// let err = IndexFile::open("/no/such/index").unwrap_err();
/// assert!(matches!(err, IndexFileError::Missing(_)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexFileError {
    /// There is no index in that directory.
    #[error(
        "no index at {} (build one first: snapstate --out {})",
        .0.display(),
        .0.parent().unwrap_or(Path::new(".")).display()
    )]
    Missing(PathBuf),
    /// Reading or writing failed.
    #[error("{}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file is not a complete, intact index.
    #[error("{} is not a valid index: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Where an index was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenIndex {
    /// The index file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its checksum (FNV-1a 64 of its contents before the trailer).
    pub checksum: u64,
}

/// The bytes of `index`'s file, and its checksum.
pub fn encode_index(index: &InvertedIndex) -> (Vec<u8>, u64) {
    let s = &index.stats;
    let mut out = MAGIC.to_vec();
    put_bytes(&mut out, index.description.as_bytes());
    for v in [s.docs, s.terms, s.postings, s.tokens, s.bytes] {
        put_varint(&mut out, v);
    }
    for name in &index.doc_names {
        put_bytes(&mut out, name.as_bytes());
    }
    let mut block = Vec::new();
    for (term, postings) in index.terms.iter() {
        put_bytes(&mut out, term.as_bytes());
        put_varint(&mut out, postings.len() as u64);
        block.clear();
        let mut prev = 0;
        for p in postings {
            put_varint(&mut block, u64::from(p.doc - prev));
            put_varint(&mut block, u64::from(p.count));
            prev = p.doc;
        }
        put_bytes(&mut out, &block);
    }
    let sum = fnv1a64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    (out, sum)
}

/// Writes `index` to `dir/index.snapidx`, creating `dir`. The file appears complete or
/// not at all: it is written under a temporary name, synced, and renamed into place, so
/// an index left by an earlier run stays intact until the new one replaces it.
///
/// # Errors
///
/// [`IndexFileError::Io`] if the directory or file cannot be written.
pub fn write_index(
    index: &InvertedIndex,
    dir: impl AsRef<Path>,
) -> Result<WrittenIndex, IndexFileError> {
    let dir = dir.as_ref();
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| IndexFileError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    // A run killed while writing left its temporary file here; nothing else removes it.
    snapstate_coordinator::remove_temp_files(dir).map_err(io_err(dir))?;
    let path = dir.join(INDEX_FILE);
    let (bytes, checksum) = encode_index(index);
    write_atomic(&path, &bytes).map_err(io_err(&path))?;
    Ok(WrittenIndex {
        path,
        bytes: bytes.len() as u64,
        checksum,
    })
}

/// An index file, read and verified, answering queries.
#[derive(Debug)]
pub struct IndexFile {
    path: PathBuf,
    bytes: Vec<u8>,
    description: String,
    stats: IndexStats,
    doc_names: Vec<String>,
    /// Offset of the first term entry.
    terms_at: usize,
    checksum: u64,
}

/// One document matching a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The document id.
    pub doc: u32,
    /// Its name.
    pub name: String,
    /// Occurrences of each query term in it, in query order.
    pub counts: Vec<u32>,
}

/// The answer to a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryResult {
    /// The normalised query terms.
    pub terms: Vec<String>,
    /// How many documents contain each term.
    pub doc_freqs: Vec<usize>,
    /// Documents containing every term, most occurrences first (ties: lower id first),
    /// at most the limit asked for.
    pub hits: Vec<Hit>,
    /// How many documents contain every term (the hits before the limit cut them).
    pub total_hits: usize,
}

impl IndexFile {
    /// Reads `dir/index.snapidx` and verifies it.
    ///
    /// # Errors
    ///
    /// [`IndexFileError::Missing`] if there is no index there, [`IndexFileError::Corrupt`]
    /// if it is truncated or damaged, [`IndexFileError::Io`] if it cannot be read.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, IndexFileError> {
        let path = dir.as_ref().join(INDEX_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(IndexFileError::Missing(path))
            }
            Err(source) => return Err(IndexFileError::Io { path, source }),
        };
        let corrupt = |reason: &str| IndexFileError::Corrupt {
            path: path.clone(),
            reason: reason.to_owned(),
        };
        if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(corrupt("not a snapstate index (bad magic)"));
        }
        let body_len = bytes.len() - 8;
        let mut trailer = [0u8; 8];
        trailer.copy_from_slice(&bytes[body_len..]);
        let checksum = u64::from_le_bytes(trailer);
        if fnv1a64(&bytes[..body_len]) != checksum {
            return Err(corrupt("checksum mismatch (truncated or damaged)"));
        }
        let parsed = Self::parse_header(&bytes[..body_len]).map_err(|e| corrupt(e.0))?;
        let (description, stats, doc_names, terms_at) = parsed;
        Ok(IndexFile {
            path,
            bytes,
            description,
            stats,
            doc_names,
            terms_at,
            checksum,
        })
    }

    #[allow(clippy::type_complexity)] // a private tuple, destructured right away
    fn parse_header(body: &[u8]) -> Result<(String, IndexStats, Vec<String>, usize), DecodeError> {
        let mut r = Reader::new(&body[MAGIC.len()..]);
        let description = r.str()?.to_owned();
        let mut v = [0u64; 5];
        for x in &mut v {
            *x = r.varint()?;
        }
        let [docs, terms, postings, tokens, bytes] = v;
        let stats = IndexStats {
            docs,
            terms,
            postings,
            tokens,
            bytes,
        };
        if docs > body.len() as u64 {
            return Err(DecodeError("document count runs past the end"));
        }
        let doc_names = (0..docs)
            .map(|_| r.str().map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let terms_at = body.len() - r.remaining();
        Ok((description, stats, doc_names, terms_at))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The checksum in the file's trailer (verified on open).
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    /// Sizes of the index.
    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    /// What was indexed.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The postings of one exact (normalised) term, if it occurs.
    ///
    /// # Errors
    ///
    /// [`IndexFileError::Corrupt`] if the term table cannot be decoded.
    pub fn postings(&self, term: &str) -> Result<Option<Vec<Posting>>, IndexFileError> {
        self.find(term).map_err(|e| IndexFileError::Corrupt {
            path: self.path.clone(),
            reason: e.0.to_owned(),
        })
    }

    fn find(&self, term: &str) -> Result<Option<Vec<Posting>>, DecodeError> {
        let body = &self.bytes[self.terms_at..self.bytes.len() - 8];
        let mut r = Reader::new(body);
        while !r.is_empty() {
            let t = r.bytes()?;
            let n = r.len()?;
            let block = r.bytes()?;
            match t.cmp(term.as_bytes()) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Greater => return Ok(None),
                std::cmp::Ordering::Equal => {}
            }
            let mut b = Reader::new(block);
            let mut doc = 0u32;
            let mut postings = Vec::with_capacity(n);
            for _ in 0..n {
                doc = doc
                    .checked_add(b.varint_u32()?)
                    .ok_or(DecodeError("document id overflows"))?;
                postings.push(Posting {
                    doc,
                    count: b.varint_u32()?,
                });
            }
            return Ok(Some(postings));
        }
        Ok(None)
    }

    /// Documents containing every term of `query` (tokenised like the corpus), best
    /// first, at most `limit` of them.
    ///
    /// # Errors
    ///
    /// [`IndexFileError::Corrupt`] if the term table cannot be decoded.
    pub fn query(&self, query: &str, limit: usize) -> Result<QueryResult, IndexFileError> {
        let mut terms = Vec::new();
        tokenize(query, |t| {
            if !terms.iter().any(|x: &String| x == t) {
                terms.push(t.to_owned());
            }
        });
        let mut lists = Vec::new();
        for t in &terms {
            lists.push(self.postings(t)?.unwrap_or_default());
        }
        let doc_freqs = lists.iter().map(Vec::len).collect();
        let mut hits = Vec::new();
        if let Some((first, rest)) = lists.split_first() {
            'docs: for p in first {
                let mut counts = vec![p.count];
                for list in rest {
                    match list.binary_search_by_key(&p.doc, |q| q.doc) {
                        Ok(i) => counts.push(list[i].count),
                        Err(_) => continue 'docs,
                    }
                }
                hits.push(Hit {
                    doc: p.doc,
                    name: self
                        .doc_names
                        .get(p.doc as usize)
                        .cloned()
                        .unwrap_or_default(),
                    counts,
                });
            }
        }
        hits.sort_by_key(|h| {
            (
                std::cmp::Reverse(h.counts.iter().map(|&c| u64::from(c)).sum::<u64>()),
                h.doc,
            )
        });
        let total_hits = hits.len();
        hits.truncate(limit);
        Ok(QueryResult {
            terms,
            doc_freqs,
            hits,
            total_hits,
        })
    }
}
