//! The output of one subtask: the inverted index of one shard.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::fxhash::FxHashMap;
use crate::term_table::TermTable;
use crate::tokenize::tokenize;

/// Text tokenised between two heartbeats of [`ShardIndex::build_with_heartbeat`].
pub const HEARTBEAT_BYTES: usize = 1 << 20;

/// `text` in pieces of about `size` bytes, each cut at a character that separates terms
/// (an ASCII character that is not a letter or digit), so that tokenising the pieces
/// gives exactly the terms of the whole.
fn pieces(text: &str, size: usize) -> impl Iterator<Item = &str> {
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

/// One document's occurrences of a term.
///
/// # Examples
///
/// ```
/// let p = snapstate_search::Posting { doc: 3, count: 2 };
/// assert_eq!(p.doc, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Posting {
    /// The document id.
    pub doc: u32,
    /// How many times the term occurs in it.
    pub count: u32,
}

/// The inverted index of one shard: terms in byte order, each with postings in document
/// order.
///
/// # Examples
///
/// ```
/// use snapstate_search::ShardIndex;
///
/// let texts = ["the cat", "The hat, the end"];
/// let shard = ShardIndex::build(0..2, |doc, buf| {
///     *buf = texts[doc as usize].to_owned();
///     Ok::<_, ()>(())
/// })?;
/// let terms: Vec<_> = shard.terms().map(|(t, _)| t).collect();
/// assert_eq!(terms, ["cat", "end", "hat", "the"]);
/// assert_eq!(shard.postings("the").unwrap().len(), 2);
/// assert_eq!(shard.tokens, 6);
/// # Ok::<(), ()>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardIndex {
    /// The shard's documents.
    pub docs: Range<u32>,
    /// Terms seen in all.
    pub tokens: u64,
    /// Bytes of text read.
    pub bytes: u64,
    pub(crate) table: TermTable,
}

impl ShardIndex {
    /// Indexes documents `docs`, reading each with `read(doc, buffer)`, which replaces
    /// the buffer's contents with the document's text.
    ///
    /// # Errors
    ///
    /// The first error `read` returns.
    pub fn build<E>(
        docs: Range<u32>,
        read: impl FnMut(u32, &mut String) -> Result<(), E>,
    ) -> Result<Self, E> {
        Self::build_with_heartbeat(docs, read, || Ok(()))
    }

    /// [`build`](Self::build), calling `beat` after every [`HEARTBEAT_BYTES`] of text
    /// tokenised, so that one huge document still shows signs of life; an error from
    /// `beat` (a cancelled run) stops the build.
    ///
    /// # Errors
    ///
    /// The first error `read` or `beat` returns.
    pub fn build_with_heartbeat<E>(
        docs: Range<u32>,
        mut read: impl FnMut(u32, &mut String) -> Result<(), E>,
        mut beat: impl FnMut() -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut text = String::new();
        let mut index: FxHashMap<String, Vec<Posting>> = FxHashMap::default();
        let mut counts: FxHashMap<String, u32> = FxHashMap::default();
        let (mut tokens, mut bytes) = (0u64, 0u64);
        for doc in docs.clone() {
            read(doc, &mut text)?;
            bytes += text.len() as u64;
            for (i, piece) in pieces(&text, HEARTBEAT_BYTES).enumerate() {
                if i > 0 {
                    beat()?;
                }
                tokenize(piece, |t| {
                    tokens += 1;
                    match counts.get_mut(t) {
                        Some(c) => *c += 1,
                        None => {
                            counts.insert(t.to_owned(), 1);
                        }
                    }
                });
            }
            for (term, count) in counts.drain() {
                index.entry(term).or_default().push(Posting { doc, count });
            }
        }
        let mut terms: Vec<_> = index.into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let postings = terms.iter().map(|(_, p)| p.len()).sum();
        let mut table = TermTable::with_capacity(terms.len(), postings);
        for (term, postings) in &terms {
            table.push(term, postings);
        }
        Ok(ShardIndex {
            docs,
            tokens,
            bytes,
            table,
        })
    }

    /// The shard's terms in byte order, each with its postings in document order.
    pub fn terms(&self) -> impl Iterator<Item = (&str, &[Posting])> {
        self.table.iter()
    }

    /// The postings of `term`, if it occurs in the shard.
    pub fn postings(&self, term: &str) -> Option<&[Posting]> {
        self.table.find(term).map(|i| self.table.postings(i))
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
    fn builds_and_round_trips_through_postcard() {
        let texts = ["a b a", "", "b c c c"];
        let shard = ShardIndex::build(5..8, |d, buf| {
            *buf = texts[(d - 5) as usize].to_owned();
            Ok::<_, ()>(())
        })
        .unwrap();
        let terms: Vec<_> = shard
            .terms()
            .map(|(t, p)| (t.to_owned(), p.to_vec()))
            .collect();
        assert_eq!(
            terms,
            vec![
                ("a".to_owned(), vec![Posting { doc: 5, count: 2 }]),
                (
                    "b".to_owned(),
                    vec![Posting { doc: 5, count: 1 }, Posting { doc: 7, count: 1 }]
                ),
                ("c".to_owned(), vec![Posting { doc: 7, count: 3 }]),
            ]
        );
        let buf = postcard::to_allocvec(&shard).unwrap();
        assert_eq!(postcard::from_bytes::<ShardIndex>(&buf).unwrap(), shard);
        for len in 0..buf.len() {
            assert!(
                postcard::from_bytes::<ShardIndex>(&buf[..len]).is_err(),
                "truncated to {len}"
            );
        }
    }
}
