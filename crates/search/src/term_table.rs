//! Terms with their postings, in four flat arrays.
//!
//! A shard index holds thousands of terms; as one `String` and one `Vec` each, merging
//! 256 shards meant millions of small allocations made on the worker threads and freed
//! on the merging one, which cost more than the indexing itself. Flat, a table is four
//! allocations and the merge copies slices.
//!
//! A shard's table lists its terms in the order the shard met them; a merged table
//! (a segment of the whole index) lists them in byte order.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};

use crate::shard_index::Posting;

/// Distinct terms and their postings.
///
/// Deserialised data is not trusted: the fields are checked to describe a table (ends
/// ascending and in bounds, on character boundaries, no term twice) before it is used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTable")]
pub(crate) struct TermTable {
    /// All terms, concatenated in order.
    text: String,
    /// `text[term_ends[i - 1]..term_ends[i]]` is term `i`.
    term_ends: Vec<usize>,
    /// `postings[post_ends[i - 1]..post_ends[i]]` are term `i`'s postings.
    post_ends: Vec<usize>,
    postings: Vec<Posting>,
}

/// The fields as stored, before [`TermTable`]'s invariants are checked.
#[derive(Deserialize)]
struct RawTable {
    text: String,
    term_ends: Vec<usize>,
    post_ends: Vec<usize>,
    postings: Vec<Posting>,
}

impl TryFrom<RawTable> for TermTable {
    type Error = String;

    fn try_from(raw: RawTable) -> Result<Self, String> {
        if raw.term_ends.len() != raw.post_ends.len() {
            return Err("term and posting tables differ in length".into());
        }
        let ascending = |ends: &[usize], len: usize| {
            ends.windows(2).all(|w| w[0] <= w[1]) && ends.last().is_none_or(|&e| e == len)
        };
        if !ascending(&raw.term_ends, raw.text.len())
            || !ascending(&raw.post_ends, raw.postings.len())
            || (raw.term_ends.is_empty() && !(raw.text.is_empty() && raw.postings.is_empty()))
        {
            return Err("table ends are not ascending to the end of the data".into());
        }
        if !raw.term_ends.iter().all(|&e| raw.text.is_char_boundary(e)) {
            return Err("a term boundary splits a character".into());
        }
        let table = TermTable {
            text: raw.text,
            term_ends: raw.term_ends,
            post_ends: raw.post_ends,
            postings: raw.postings,
        };
        if (0..table.len()).any(|i| table.term(i).is_empty()) {
            return Err("a term is empty".into());
        }
        let mut seen: HashTable<usize> = HashTable::with_capacity(table.len());
        for i in 0..table.len() {
            let term = table.term(i);
            let hash = FxBuildHasher.hash_one(term);
            if seen.find(hash, |&j| table.term(j) == term).is_some() {
                return Err(format!("term {term:?} occurs twice"));
            }
            seen.insert_unique(hash, i, |&j| FxBuildHasher.hash_one(table.term(j)));
        }
        Ok(table)
    }
}

impl TermTable {
    /// A table from its arrays, which must satisfy the invariants the deserialiser
    /// checks.
    pub(crate) fn from_parts(
        text: String,
        term_ends: Vec<usize>,
        post_ends: Vec<usize>,
        postings: Vec<Posting>,
    ) -> Self {
        debug_assert_eq!(term_ends.len(), post_ends.len());
        debug_assert_eq!(term_ends.last().copied().unwrap_or(0), text.len());
        debug_assert_eq!(post_ends.last().copied().unwrap_or(0), postings.len());
        TermTable {
            text,
            term_ends,
            post_ends,
            postings,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.term_ends.len()
    }

    pub(crate) fn postings_len(&self) -> usize {
        self.postings.len()
    }

    pub(crate) fn term(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.term_ends[i - 1] };
        &self.text[start..self.term_ends[i]]
    }

    pub(crate) fn postings(&self, i: usize) -> &[Posting] {
        let start = if i == 0 { 0 } else { self.post_ends[i - 1] };
        &self.postings[start..self.post_ends[i]]
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[Posting])> {
        (0..self.len()).map(|i| (self.term(i), self.postings(i)))
    }

    /// The index of `term`, by linear search (any table).
    pub(crate) fn position(&self, term: &str) -> Option<usize> {
        (0..self.len()).find(|&i| self.term(i) == term)
    }

    /// The index of `term`, by binary search (a table in byte order).
    pub(crate) fn find(&self, term: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.term(mid).cmp(term) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(doc: u32, count: u32) -> Posting {
        Posting { doc, count }
    }

    fn table(terms: &[(&str, &[Posting])]) -> TermTable {
        let (mut text, mut ends, mut pends, mut postings) =
            (String::new(), Vec::new(), Vec::new(), Vec::new());
        for (t, ps) in terms {
            text.push_str(t);
            ends.push(text.len());
            postings.extend_from_slice(ps);
            pends.push(postings.len());
        }
        TermTable::from_parts(text, ends, pends, postings)
    }

    #[test]
    fn lookups_and_validation() {
        let t = table(&[("ant", &[p(0, 1)]), ("cat", &[p(0, 2), p(1, 1)])]);
        assert_eq!(t.find("cat"), Some(1));
        assert_eq!(t.position("cat"), Some(1));
        assert_eq!(t.find("bee"), None);
        assert_eq!(t.postings(1), &[p(0, 2), p(1, 1)]);
        let bytes = postcard::to_allocvec(&t).unwrap();
        assert_eq!(postcard::from_bytes::<TermTable>(&bytes).unwrap(), t);
        let twice = table(&[("ant", &[p(0, 1)]), ("ant", &[p(1, 1)])]);
        let bytes = postcard::to_allocvec(&twice).unwrap();
        let err = postcard::from_bytes::<TermTable>(&bytes).unwrap_err();
        assert!(matches!(err, postcard::Error::SerdeDeCustom), "{err:?}");
    }
}
