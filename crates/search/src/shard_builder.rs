//! Building one shard's index in a single pass over its documents.
//!
//! Each distinct term of the shard is stored once, in one text arena, and numbered in
//! the order it first occurs; a hash table maps a term's bytes to its number. Each term
//! keeps the document it was last seen in and its count there; when it turns up in a
//! later document, that finished (document, count) posting is appended to one list for
//! the shard. So there is no map per document, no allocation per term or per document,
//! and a repeated term touches only its own entry. At the end the postings are grouped
//! by term with one counting sort, which keeps each term's in document order.

use std::hash::BuildHasher;
use std::ops::Range;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

use crate::shard_index::{Posting, ShardIndex, SkippedDoc, HEARTBEAT_BYTES};
use crate::skip::SkipReason;
use crate::term_table::TermTable;
use crate::tokenize::tokenize;

/// Not seen in any document yet (in [`Term::doc`]).
const NONE: u32 = u32::MAX;

/// What the builder keeps per distinct term.
#[derive(Clone, Copy, Debug)]
struct Term {
    /// Where it starts in the text arena.
    start: usize,
    /// Its length in bytes.
    len: u32,
    /// The document it was last seen in (numbered among the indexed), or [`NONE`].
    doc: u32,
    /// Its occurrences in that document so far.
    count: u32,
}

/// Distinct terms a shard's tables start with room for.
const INITIAL_TERMS: usize = 1024;

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
    terms: Vec<Term>,
    /// (term, posting) for each finished posting, in the order finished.
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
            table: HashTable::with_capacity(INITIAL_TERMS),
            hashes: Vec::with_capacity(INITIAL_TERMS),
            text: String::with_capacity(INITIAL_TERMS * 8),
            terms: Vec::with_capacity(INITIAL_TERMS),
            postings: Vec::with_capacity(INITIAL_TERMS * 2),
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
            terms,
            postings,
            indexed,
            ..
        } = self;
        let doc = *indexed;
        let bytes = term.as_bytes();
        let found = table.find(hash, |&id| {
            let t = &terms[id as usize];
            text.as_bytes().get(t.start..t.start + t.len as usize) == Some(bytes)
        });
        let id = match found {
            Some(&id) => id,
            None => {
                let id = terms.len() as u32;
                terms.push(Term {
                    start: text.len(),
                    len: term.len() as u32,
                    doc: NONE,
                    count: 0,
                });
                text.push_str(term);
                hashes.push(hash);
                table.insert_unique(hash, id, |&id| hashes[id as usize]);
                id
            }
        };
        let t = &mut terms[id as usize];
        if t.doc == doc {
            t.count += 1;
        } else {
            if t.doc != NONE {
                postings.push((
                    id,
                    Posting {
                        doc: t.doc,
                        count: t.count,
                    },
                ));
            }
            t.doc = doc;
            t.count = 1;
        }
    }

    /// The shard's index: terms in first-occurrence order, postings grouped by term.
    pub(crate) fn finish(mut self) -> ShardIndex {
        // Each term's posting for the last document it was seen in.
        for (id, t) in self.terms.iter().enumerate() {
            if t.doc != NONE {
                self.postings.push((
                    id as u32,
                    Posting {
                        doc: t.doc,
                        count: t.count,
                    },
                ));
            }
        }
        let mut post_ends = vec![0usize; self.terms.len()];
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
        let term_ends = self
            .terms
            .iter()
            .map(|t| t.start + t.len as usize)
            .collect();
        // The shard is kept until the merge: no spare room in it.
        self.text.shrink_to_fit();
        let table = TermTable::from_parts(self.text, term_ends, post_ends, grouped);
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
        assert_eq!(
            shard.skipped().collect::<Vec<_>>(),
            [(11, SkipReason::Binary, "")]
        );
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
