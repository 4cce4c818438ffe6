//! The whole inverted index, merged from the shard indexes.

use serde::Serialize;

use crate::corpus::Corpus;
use crate::shard_index::{Posting, ShardIndex};
use crate::term_table::TermTable;

/// Term to postings (document ids ascending, with counts), over a whole corpus.
///
/// # Examples
///
/// ```
/// use snapstate_search::{Corpus, IndexJob, InvertedIndex};
/// use snapstate_coordinator::{Job, TaskContext};
///
/// let corpus = Corpus::generated(20, 2, 1);
/// let job = IndexJob::new(corpus.clone());
/// let shards = (0..2).map(|k| job.run(k, &TaskContext::detached(k)).unwrap()).collect();
/// let index = InvertedIndex::merge(&corpus, shards);
/// assert_eq!(index.stats().docs, 20);
/// assert!(index.postings(index.terms().next().unwrap()).is_some());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvertedIndex {
    pub(crate) doc_names: Vec<String>,
    pub(crate) terms: TermTable,
    pub(crate) stats: IndexStats,
    pub(crate) description: String,
}

/// Sizes of an index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    /// Documents indexed.
    pub docs: u64,
    /// Distinct terms.
    pub terms: u64,
    /// (term, document) pairs.
    pub postings: u64,
    /// Term occurrences.
    pub tokens: u64,
    /// Bytes of text read.
    pub bytes: u64,
}

impl InvertedIndex {
    /// Merges the shard indexes of `corpus`, given in shard order.
    pub fn merge(corpus: &Corpus, shards: Vec<ShardIndex>) -> Self {
        let mut stats = IndexStats {
            docs: u64::from(corpus.docs()),
            ..IndexStats::default()
        };
        for shard in &shards {
            stats.tokens += shard.tokens;
            stats.bytes += shard.bytes;
        }
        let tables: Vec<TermTable> = shards.into_iter().map(|s| s.table).collect();
        let terms = TermTable::merge(&tables);
        stats.terms = terms.len() as u64;
        stats.postings = terms.postings_len() as u64;
        InvertedIndex {
            doc_names: (0..corpus.docs()).map(|d| corpus.doc_name(d)).collect(),
            terms,
            stats,
            description: corpus.description().to_owned(),
        }
    }

    /// Sizes of the index.
    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    /// The postings of `term` (already normalised: lowercase), if it occurs.
    pub fn postings(&self, term: &str) -> Option<&[Posting]> {
        self.terms.find(term).map(|i| self.terms.postings(i))
    }

    /// All terms, in byte order.
    pub fn terms(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|(t, _)| t)
    }

    /// The name of document `doc`.
    pub fn doc_name(&self, doc: u32) -> Option<&str> {
        self.doc_names.get(doc as usize).map(String::as_str)
    }

    /// The term occurring in the most documents (ties: the first in byte order).
    pub fn most_common_term(&self) -> Option<&str> {
        self.terms
            .iter()
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
            .map(|(t, _)| t)
    }
}
