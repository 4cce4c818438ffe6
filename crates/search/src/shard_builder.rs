//! Building one shard's index in a single pass over its documents.
//!
//! Each distinct term of the shard is stored once, in one text arena, and numbered in
//! the order it first occurs; a hash table maps a term's bytes to its number. A posting
//! is appended the first time a term occurs in a document and counted up after that
//! (each term remembers where its latest posting is), so there is no map per document
//! and no allocation per term or per document. At the end the postings are grouped by
//! term with one counting sort, which keeps them in document order.

use std::hash::BuildHasher;
use std::ops::Range;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::shard_index::{Posting, ShardIndex, SkippedDoc, HEARTBEAT_BYTES};
use crate::skip::SkipReason;
use crate::term_table::TermTable;
use crate::tokenize::tokenize;

/// No posting yet (in [`ShardBuilder::latest`]).
const NONE: u32 = u32::MAX;

/// A shard's index in the making.
#[derive(Debug)]
pub(crate) struct ShardBuilder {
    docs: Range<u32>,
    /// Term numbers, by the hash of the term's bytes.
    table: HashTable<u32>,
    /// Per term: its hash (to grow the table without rehashing the text).
    hashes: Vec<u64>,
    /// All terms, concatenated in number order.
    text: String,
    /// Per term: where it ends in `text`.
    ends: Vec<usize>,
    /// Per term: the index in `postings` of its latest posting.
    latest: Vec<u32>,
    /// (term, posting) in the order made.
    postings: Vec<(u32, Posting)>,
    /// Documents indexed so far: the next one's number.
    indexed: u32,
    skipped: Vec<SkippedDoc>,
    tokens: u64,
    bytes: u64,
}

/// `text` in pieces of about `size` bytes, each cut just after a byte that separates
/// terms (an ASCII byte that is not a letter or digit), so that tokenising the pieces
/// gives exactly the terms of the whole.
pub(crate) fn pieces(text: &str, size: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = if rest.len() <= size {
            rest.len()
        } else {
            rest.as_bytes()[size..]
                .iter()
                .position(|b| b.is_ascii() && !b.is_ascii_alphanumeric())
                .map_or(rest.len(), |p| size + p + 1)
        };
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

impl ShardBuilder {
    /// An empty index of the documents `docs`.
    pub(crate) fn new(docs: Range<u32>) -> Self {
        ShardBuilder {
            docs,
            table: HashTable::new(),
            hashes: Vec::new(),
            text: String::new(),
            ends: Vec::new(),
            latest: Vec::new(),
            postings: Vec::new(),
            indexed: 0,
            skipped: Vec::new(),
            tokens: 0,
            bytes: 0,
        }
    }

    /// Indexes the next document, whose text is `text`, calling `beat` between pieces
    /// of [`HEARTBEAT_BYTES`]; an error from `beat` stops it (and the shard is to be
    /// dropped).
    pub(crate) fn add<E>(
        &mut self,
        text: &str,
        mut beat: impl FnMut() -> Result<(), E>,
    ) -> Result<(), E> {
        self.bytes += text.len() as u64;
        for (i, piece) in pieces(text, HEARTBEAT_BYTES).enumerate() {
            if i > 0 {
                beat()?;
            }
            tokenize(piece, |t| self.count(t));
        }
        self.indexed += 1;
        Ok(())
    }

    /// Records that document `doc` (a corpus number) is not indexed.
    pub(crate) fn skip(&mut self, doc: u32, reason: SkipReason, detail: String) {
        debug_assert!(self.docs.contains(&doc));
        self.skipped.push(SkippedDoc {
            doc,
            reason,
            detail,
        });
    }

    /// One occurrence of `term` in the current document.
    #[inline]
    fn count(&mut self, term: &str) {
        self.tokens += 1;
        let hash = FxBuildHasher.hash_one(term);
        let ShardBuilder {
            table,
            hashes,
            text,
            ends,
            latest,
            postings,
            indexed,
            ..
        } = self;
        let term_of = |id: u32| {
            let i = id as usize;
            let start = if i == 0 { 0 } else { ends[i - 1] };
            &text[start..ends[i]]
        };
        let id = match table.find(hash, |&id| term_of(id) == term) {
            Some(&id) => id,
            None => {
                let id = ends.len() as u32;
                text.push_str(term);
                ends.push(text.len());
                hashes.push(hash);
                latest.push(NONE);
                table.insert_unique(hash, id, |&id| hashes[id as usize]);
                id
            }
        };
        let at = latest[id as usize];
        if at != NONE {
            let posting = &mut postings[at as usize].1;
            if posting.doc == *indexed {
                posting.count += 1;
                return;
            }
        }
        latest[id as usize] = postings.len() as u32;
        postings.push((
            id,
            Posting {
                doc: *indexed,
                count: 1,
            },
        ));
    }

    /// The shard's index: terms in first-occurrence order, postings grouped by term.
    pub(crate) fn finish(self) -> ShardIndex {
        let terms = self.ends.len();
        let mut post_ends = vec![0usize; terms];
        for &(id, _) in &self.postings {
            post_ends[id as usize] += 1;
        }
        let mut at = 0;
        for end in &mut post_ends {
            let n = *end;
            *end = at; // the start, for now
            at += n;
        }
        let mut grouped = vec![Posting { doc: 0, count: 0 }; self.postings.len()];
        for &(id, posting) in &self.postings {
            let slot = &mut post_ends[id as usize];
            grouped[*slot] = posting;
            *slot += 1;
        }
        // Each start has moved to its term's end.
        let table = TermTable::from_parts(self.text, self.ends, post_ends, grouped);
        ShardIndex {
            docs: self.docs,
            indexed: self.indexed,
            tokens: self.tokens,
            bytes: self.bytes,
            skipped: self.skipped,
            table,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_cut_between_terms_and_give_the_same_terms() {
        let text = "alpha beta,gamma délta\nepsilon ".repeat(50) + &"x".repeat(300);
        for size in [1, 7, 64, 1000, 10_000] {
            let parts: Vec<&str> = pieces(&text, size).collect();
            assert_eq!(parts.concat(), text, "size {size}");
            let mut whole = Vec::new();
            tokenize(&text, |t| whole.push(t.to_owned()));
            let mut joined = Vec::new();
            for p in &parts {
                tokenize(p, |t| joined.push(t.to_owned()));
            }
            assert_eq!(joined, whole, "size {size}");
            if size < 100 {
                assert!(parts.len() > 10, "size {size}: {}", parts.len());
            }
        }
    }

    #[test]
    fn counts_per_document_and_numbers_indexed_documents_only() {
        let mut b = ShardBuilder::new(10..14);
        b.add("b a b", || Ok::<_, ()>(())).unwrap();
        b.skip(11, SkipReason::Binary, String::new());
        b.add("a c", || Ok::<_, ()>(())).unwrap();
        b.add("", || Ok::<_, ()>(())).unwrap();
        let shard = b.finish();
        let got: Vec<_> = shard
            .terms()
            .map(|(t, p)| (t.to_owned(), p.to_vec()))
            .collect();
        let p = |doc, count| Posting { doc, count };
        assert_eq!(
            got,
            vec![
                ("b".to_owned(), vec![p(0, 2)]),
                ("a".to_owned(), vec![p(0, 1), p(1, 1)]),
                ("c".to_owned(), vec![p(1, 1)]),
            ]
        );
        assert_eq!((shard.indexed, shard.tokens, shard.bytes), (3, 5, 8));
        assert_eq!(shard.skipped().collect::<Vec<_>>(), [(11, SkipReason::Binary, "")]);
    }

    #[test]
    fn a_failed_heartbeat_stops_a_large_document() {
        let big = "word ".repeat(HEARTBEAT_BYTES / 2);
        let mut b = ShardBuilder::new(0..1);
        let mut beats = 0;
        let r = b.add(&big, || {
            beats += 1;
            Err("cancelled")
        });
        assert_eq!((r, beats), (Err("cancelled"), 1));
    }
}
