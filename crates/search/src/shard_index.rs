//! The output of one subtask: the inverted index of one shard.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::shard_builder::ShardBuilder;
use crate::skip::SkipReason;
use crate::term_table::TermTable;

/// Text read or tokenised between two heartbeats of a shard run.
pub const HEARTBEAT_BYTES: usize = 1 << 20;

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

/// A document of a shard that was not indexed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SkippedDoc {
    /// Its number in the corpus.
    pub(crate) doc: u32,
    pub(crate) reason: SkipReason,
    pub(crate) detail: String,
}

/// The inverted index of one shard: each term with its postings in document order.
///
/// Postings number the shard's *indexed* documents from 0 (documents found not to be
/// text, or unreadable, are listed in [`skipped`](Self::skipped) and take no number);
/// [`InvertedIndex::merge`](crate::InvertedIndex::merge) renumbers them for the whole
/// corpus. Terms are in the order the shard first met them.
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
/// assert_eq!(terms, ["the", "cat", "hat", "end"]);
/// assert_eq!(shard.postings("the").unwrap().len(), 2);
/// assert_eq!(shard.tokens, 6);
/// # Ok::<(), ()>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawShard")]
pub struct ShardIndex {
    /// The shard's documents (numbered in the corpus).
    pub docs: Range<u32>,
    /// How many of them were indexed.
    pub indexed: u32,
    /// Terms seen in all.
    pub tokens: u64,
    /// Bytes of text indexed.
    pub bytes: u64,
    pub(crate) skipped: Vec<SkippedDoc>,
    pub(crate) table: TermTable,
}

/// The fields as stored, before [`ShardIndex`]'s invariants are checked.
#[derive(Deserialize)]
struct RawShard {
    docs: Range<u32>,
    indexed: u32,
    tokens: u64,
    bytes: u64,
    skipped: Vec<SkippedDoc>,
    table: TermTable,
}

impl TryFrom<RawShard> for ShardIndex {
    type Error = String;

    fn try_from(raw: RawShard) -> Result<Self, String> {
        let len = raw.docs.end.checked_sub(raw.docs.start);
        let skipped_in_range = raw.skipped.windows(2).all(|w| w[0].doc < w[1].doc)
            && raw.skipped.iter().all(|s| raw.docs.contains(&s.doc));
        if len != Some(raw.indexed + raw.skipped.len() as u32) || !skipped_in_range {
            return Err("skipped documents do not fit the shard".into());
        }
        for (_, postings) in raw.table.iter() {
            let ascending = postings.windows(2).all(|w| w[0].doc < w[1].doc);
            if !ascending
                || postings
                    .iter()
                    .any(|p| p.doc >= raw.indexed || p.count == 0)
            {
                return Err("postings are not ascending within the shard's documents".into());
            }
        }
        Ok(ShardIndex {
            docs: raw.docs,
            indexed: raw.indexed,
            tokens: raw.tokens,
            bytes: raw.bytes,
            skipped: raw.skipped,
            table: raw.table,
        })
    }
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
        mut read: impl FnMut(u32, &mut String) -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut text = String::new();
        let mut builder = ShardBuilder::new(docs.clone());
        for doc in docs {
            read(doc, &mut text)?;
            builder.add(&text, || Ok(()))?;
        }
        Ok(builder.finish())
    }

    /// [`build`](Self::build), calling `beat` between documents and after every
    /// [`HEARTBEAT_BYTES`] of text tokenised, so that one huge document still shows
    /// signs of life; an error from `beat` (a cancelled run) stops the build.
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
        let mut builder = ShardBuilder::new(docs.clone());
        for doc in docs {
            beat()?;
            read(doc, &mut text)?;
            builder.add(&text, &mut beat)?;
        }
        Ok(builder.finish())
    }

    /// The shard's terms, each with its postings in document order.
    pub fn terms(&self) -> impl Iterator<Item = (&str, &[Posting])> {
        self.table.iter()
    }

    /// The postings of `term`, if it occurs in the shard (a linear search: for
    /// inspection, not for queries).
    pub fn postings(&self, term: &str) -> Option<&[Posting]> {
        self.table.position(term).map(|i| self.table.postings(i))
    }

    /// The documents that were not indexed: corpus number, reason and detail.
    pub fn skipped(&self) -> impl Iterator<Item = (u32, SkipReason, &str)> {
        self.skipped
            .iter()
            .map(|s| (s.doc, s.reason, s.detail.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                ("a".to_owned(), vec![Posting { doc: 0, count: 2 }]),
                (
                    "b".to_owned(),
                    vec![Posting { doc: 0, count: 1 }, Posting { doc: 2, count: 1 }]
                ),
                ("c".to_owned(), vec![Posting { doc: 2, count: 3 }]),
            ]
        );
        assert_eq!(shard.indexed, 3);
        let buf = postcard::to_allocvec(&shard).unwrap();
        assert_eq!(postcard::from_bytes::<ShardIndex>(&buf).unwrap(), shard);
        for len in 0..buf.len() {
            assert!(
                postcard::from_bytes::<ShardIndex>(&buf[..len]).is_err(),
                "truncated to {len}"
            );
        }
    }

    #[test]
    fn a_shard_that_breaks_its_invariants_is_refused() {
        let mut shard = ShardIndex::build(0..2, |_, buf| {
            *buf = "x y".to_owned();
            Ok::<_, ()>(())
        })
        .unwrap();
        shard.indexed = 1; // postings name document 1
        let buf = postcard::to_allocvec(&shard).unwrap();
        assert!(postcard::from_bytes::<ShardIndex>(&buf).is_err());
    }
}
