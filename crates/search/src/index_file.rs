//! Reading an index file back: verified against its checksum, then queried by binary
//! search over its term offsets (the layout is in `index_format`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::codec::{DecodeError, Reader};
use crate::index::IndexStats;
use crate::index_format::{checksum_of, INDEX_FILE, MAGIC, TRAILER};
use crate::shard_index::Posting;
use crate::tokenize::tokenize;

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

/// The parts of an index file before its term offsets.
struct Header {
    description: String,
    stats: IndexStats,
    doc_names: Vec<String>,
    offsets_at: usize,
    width: usize,
    entries_at: usize,
}

/// An index file, read and verified, answering queries.
#[derive(Debug)]
pub struct IndexFile {
    path: PathBuf,
    bytes: Vec<u8>,
    description: String,
    stats: IndexStats,
    doc_names: Vec<String>,
    /// Where the term offsets start, and their width in bytes.
    offsets_at: usize,
    width: usize,
    /// Where the entries start and end.
    entries_at: usize,
    entries_end: usize,
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
        if bytes.len() < MAGIC.len() + TRAILER || &bytes[..MAGIC.len()] != MAGIC {
            return Err(if bytes.starts_with(b"SNAPIDX") {
                corrupt("an index of another version (rebuild it with this snapstate)")
            } else {
                corrupt("not a snapstate index (bad magic)")
            });
        }
        let body_len = bytes.len() - TRAILER;
        let mut trailer = [0u8; TRAILER];
        trailer.copy_from_slice(&bytes[body_len..]);
        if blake3::hash(&bytes[..body_len]).as_bytes() != &trailer {
            return Err(corrupt("checksum mismatch (truncated or damaged)"));
        }
        let header = Self::parse_header(&bytes[..body_len]).map_err(|e| corrupt(e.0))?;
        Ok(IndexFile {
            path,
            description: header.description,
            stats: header.stats,
            doc_names: header.doc_names,
            offsets_at: header.offsets_at,
            width: header.width,
            entries_at: header.entries_at,
            entries_end: body_len,
            checksum: checksum_of(&trailer),
            bytes,
        })
    }

    fn parse_header(body: &[u8]) -> Result<Header, DecodeError> {
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
        if docs > body.len() as u64 || terms > body.len() as u64 {
            return Err(DecodeError("a count runs past the end"));
        }
        let doc_names = (0..docs)
            .map(|_| r.str().map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let width = usize::from(r.take(1)?[0]);
        if width != 4 && width != 8 {
            return Err(DecodeError("bad term offset width"));
        }
        let offsets_at = body.len() - r.remaining();
        let offsets = usize::try_from(terms)
            .ok()
            .and_then(|t| t.checked_mul(width))
            .ok_or(DecodeError("term offsets run past the end"))?;
        r.take(offsets)?;
        let entries_at = body.len() - r.remaining();
        Ok(Header {
            description,
            stats,
            doc_names,
            offsets_at,
            width,
            entries_at,
        })
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

    /// Where entry `i` starts within the entries.
    fn offset(&self, i: usize) -> usize {
        let at = self.offsets_at + i * self.width;
        let mut le = [0u8; 8];
        le[..self.width].copy_from_slice(&self.bytes[at..at + self.width]);
        u64::from_le_bytes(le) as usize
    }

    /// Entry `i`'s bytes: from its offset to the next one's (or the end).
    fn entry(&self, i: usize) -> Result<&[u8], DecodeError> {
        #[cfg(test)]
        tests::PROBES.with(|p| p.set(p.get() + 1));
        let entries = &self.bytes[self.entries_at..self.entries_end];
        let start = self.offset(i);
        let end = if i + 1 < self.stats.terms as usize {
            self.offset(i + 1)
        } else {
            entries.len()
        };
        entries
            .get(start..end)
            .ok_or(DecodeError("a term offset runs past the entries"))
    }

    fn find(&self, term: &str) -> Result<Option<Vec<Posting>>, DecodeError> {
        let (mut lo, mut hi) = (0, self.stats.terms as usize);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let mut r = Reader::new(self.entry(mid)?);
            match r.bytes()?.cmp(term.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    let n = r.len()?;
                    let mut doc = 0u32;
                    let mut postings = Vec::with_capacity(n);
                    for k in 0..n {
                        let delta = r.varint_u32()?;
                        if k > 0 && delta == 0 {
                            return Err(DecodeError("document ids are not ascending"));
                        }
                        doc = doc
                            .checked_add(delta)
                            .ok_or(DecodeError("document id overflows"))?;
                        postings.push(Posting {
                            doc,
                            count: r.varint_u32()?,
                        });
                    }
                    return Ok(Some(postings));
                }
            }
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

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use crate::{write_index, Corpus, IndexFile, IndexJob, InvertedIndex};
    use snapstate_coordinator::{Job, TaskContext};

    thread_local! {
        /// Term entries a lookup has read.
        pub(super) static PROBES: Cell<usize> = const { Cell::new(0) };
    }

    #[test]
    fn a_lookup_reads_a_logarithmic_number_of_entries() {
        let corpus = Corpus::generated(400, 4, 3);
        let job = IndexJob::new(corpus.clone());
        let shards = (0..4)
            .map(|k| job.run(k, &TaskContext::detached(k)).unwrap())
            .collect();
        let index = InvertedIndex::merge(&corpus, shards);
        let dir = tempfile::tempdir().unwrap();
        write_index(&index, dir.path()).unwrap();
        let file = IndexFile::open(dir.path()).unwrap();
        let terms: Vec<&str> = index.terms().collect();
        assert!(terms.len() > 4000, "{} terms", terms.len());
        let bound = 2 + (terms.len() as f64).log2().ceil() as usize;
        for (i, term) in terms.iter().enumerate().step_by(97) {
            PROBES.with(|p| p.set(0));
            assert_eq!(
                file.postings(term).unwrap().as_deref(),
                index.postings(term),
                "{term}"
            );
            let probes = PROBES.with(Cell::get);
            assert!(
                probes <= bound,
                "term {i}: {probes} entries read, bound {bound}"
            );
        }
        PROBES.with(|p| p.set(0));
        assert_eq!(file.postings("zzzzzzzzzz").unwrap(), None);
        assert!(PROBES.with(Cell::get) <= bound);
    }
}
