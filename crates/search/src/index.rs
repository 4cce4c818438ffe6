//! The whole inverted index, merged from the shard indexes.

use serde::Serialize;

use crate::corpus::Corpus;
use crate::merge;
use crate::shard_index::{Posting, ShardIndex};
use crate::skip::Skipped;
use crate::term_table::TermTable;

/// Term to postings (document ids ascending, with counts), over a whole corpus.
///
/// Documents are numbered `0..docs` in corpus order, counting only the documents that
/// were indexed; the files left out are in [`skipped`](Self::skipped).
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
#[derive(Clone, Debug)]
pub struct InvertedIndex {
    pub(crate) doc_names: Vec<String>,
    /// Consecutive runs of terms in byte order (how the parallel merge made them).
    pub(crate) segments: Vec<TermTable>,
    pub(crate) stats: IndexStats,
    pub(crate) description: String,
    pub(crate) skipped: Vec<Skipped>,
}

/// Equal when they hold the same documents, terms and postings, however segmented.
impl PartialEq for InvertedIndex {
    fn eq(&self, other: &Self) -> bool {
        self.doc_names == other.doc_names
            && self.stats == other.stats
            && self.description == other.description
            && self.skipped == other.skipped
            && self.entries().eq(other.entries())
    }
}

impl Eq for InvertedIndex {}

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
    /// Bytes of text indexed.
    pub bytes: u64,
}

impl InvertedIndex {
    /// Merges the shard indexes of `corpus`, given in shard order, on the current
    /// rayon thread pool.
    pub fn merge(corpus: &Corpus, shards: Vec<ShardIndex>) -> Self {
        let mut stats = IndexStats::default();
        let mut skipped = corpus.skipped().to_vec();
        let mut doc_names = Vec::new();
        let mut inputs = Vec::with_capacity(shards.len());
        for shard in &shards {
            inputs.push((&shard.table, doc_names.len() as u32));
            stats.tokens += shard.tokens;
            stats.bytes += shard.bytes;
            let mut left_out = shard.skipped.iter().peekable();
            for doc in shard.docs.clone() {
                match left_out.next_if(|s| s.doc == doc) {
                    Some(s) => skipped.push(Skipped::new(
                        corpus.doc_name(doc),
                        s.reason,
                        s.detail.clone(),
                    )),
                    None => doc_names.push(corpus.doc_name(doc)),
                }
            }
        }
        let segments = merge::merge(&inputs);
        stats.docs = doc_names.len() as u64;
        stats.terms = segments.iter().map(|s| s.len() as u64).sum();
        stats.postings = segments.iter().map(|s| s.postings_len() as u64).sum();
        skipped.sort();
        InvertedIndex {
            doc_names,
            segments,
            stats,
            description: corpus.description().to_owned(),
            skipped,
        }
    }

    /// Sizes of the index.
    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    /// The postings of `term` (already normalised: lowercase), if it occurs.
    pub fn postings(&self, term: &str) -> Option<&[Posting]> {
        // The last segment whose first term is not after `term`.
        let s = self
            .segments
            .partition_point(|seg| seg.term(0) <= term)
            .checked_sub(1)?;
        let seg = &self.segments[s];
        seg.find(term).map(|i| seg.postings(i))
    }

    /// All terms, in byte order.
    pub fn terms(&self) -> impl Iterator<Item = &str> {
        self.entries().map(|(t, _)| t)
    }

    /// All terms in byte order, each with its postings.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[Posting])> {
        self.segments.iter().flat_map(TermTable::iter)
    }

    /// The name of document `doc`.
    pub fn doc_name(&self, doc: u32) -> Option<&str> {
        self.doc_names.get(doc as usize).map(String::as_str)
    }

    /// The files left out of the index, in name order: those the walk passed over and
    /// those found unfit when read.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// The term occurring in the most documents (ties: the first in byte order).
    pub fn most_common_term(&self) -> Option<&str> {
        self.entries()
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
            .map(|(t, _)| t)
    }
}
