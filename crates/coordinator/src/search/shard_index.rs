//! The output of one subtask: the inverted index of one shard.

use std::ops::Range;

use crate::codec::{put_bytes, put_varint, DecodeError, Reader};
use crate::job::Codec;
use crate::search::fxhash::FxHashMap;
use crate::search::term_table::TermTable;
use crate::search::tokenize::tokenize;

/// One document's occurrences of a term.
///
/// # Examples
///
/// ```
/// let p = snapstate_coordinator::search::Posting { doc: 3, count: 2 };
/// assert_eq!(p.doc, 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
/// use snapstate_coordinator::search::ShardIndex;
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
        mut read: impl FnMut(u32, &mut String) -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut text = String::new();
        let mut index: FxHashMap<String, Vec<Posting>> = FxHashMap::default();
        let mut counts: FxHashMap<String, u32> = FxHashMap::default();
        let (mut tokens, mut bytes) = (0u64, 0u64);
        for doc in docs.clone() {
            read(doc, &mut text)?;
            bytes += text.len() as u64;
            tokenize(&text, |t| {
                tokens += 1;
                match counts.get_mut(t) {
                    Some(c) => *c += 1,
                    None => {
                        counts.insert(t.to_owned(), 1);
                    }
                }
            });
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

impl Codec for ShardIndex {
    fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, u64::from(self.docs.start));
        put_varint(out, u64::from(self.docs.end));
        put_varint(out, self.tokens);
        put_varint(out, self.bytes);
        put_varint(out, self.table.len() as u64);
        for (term, postings) in self.table.iter() {
            put_bytes(out, term.as_bytes());
            put_varint(out, postings.len() as u64);
            let mut prev = self.docs.start;
            for p in postings {
                put_varint(out, u64::from(p.doc - prev));
                put_varint(out, u64::from(p.count));
                prev = p.doc;
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let start = r.varint_u32()?;
        let end = r.varint_u32()?;
        let tokens = r.varint()?;
        let bytes_read = r.varint()?;
        let n = r.len()?;
        let mut table = TermTable::with_capacity(n, 0);
        let mut postings = Vec::new();
        for i in 0..n {
            let term = r.str()?;
            if i > 0 && table.term(i - 1) >= term {
                return Err(DecodeError("terms out of order"));
            }
            let np = r.len()?;
            postings.clear();
            let mut doc = start;
            for _ in 0..np {
                doc = doc
                    .checked_add(r.varint_u32()?)
                    .ok_or(DecodeError("document id overflows"))?;
                postings.push(Posting {
                    doc,
                    count: r.varint_u32()?,
                });
            }
            table.push(term, &postings);
        }
        if !r.is_empty() {
            return Err(DecodeError("trailing bytes after a shard index"));
        }
        Ok(ShardIndex {
            docs: start..end,
            tokens,
            bytes: bytes_read,
            table,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_round_trips() {
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
        let mut buf = Vec::new();
        shard.encode(&mut buf);
        assert_eq!(ShardIndex::decode(&buf).unwrap(), shard);
        for len in 0..buf.len() {
            assert!(
                ShardIndex::decode(&buf[..len]).is_err(),
                "truncated to {len}"
            );
        }
    }
}
