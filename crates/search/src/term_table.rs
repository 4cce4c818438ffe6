//! Terms with their postings, sorted by term, in four flat arrays.
//!
//! A shard index holds thousands of terms; as one `String` and one `Vec` each, merging
//! 256 shards meant millions of small allocations made on the worker threads and freed
//! on the merging one, which cost more than the indexing itself. Flat, a shard is four
//! allocations and the merge copies slices.

use serde::{Deserialize, Serialize};

use crate::fxhash::FxHashMap;
use crate::shard_index::Posting;

/// Sorted terms and their postings.
///
/// Deserialised data is not trusted: the fields are checked to describe a table (ends
/// ascending and in bounds, on character boundaries) before it is used.
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
        if (1..table.len()).any(|i| table.term(i - 1) >= table.term(i)) {
            return Err("terms are not in ascending order".into());
        }
        Ok(table)
    }
}

impl TermTable {
    pub(crate) fn with_capacity(terms: usize, postings: usize) -> Self {
        TermTable {
            text: String::new(),
            term_ends: Vec::with_capacity(terms),
            post_ends: Vec::with_capacity(terms),
            postings: Vec::with_capacity(postings),
        }
    }

    /// Appends a term, which must sort after every term already in the table.
    pub(crate) fn push(&mut self, term: &str, postings: &[Posting]) {
        debug_assert!(self.len() == 0 || self.term(self.len() - 1) < term);
        self.text.push_str(term);
        self.term_ends.push(self.text.len());
        self.postings.extend_from_slice(postings);
        self.post_ends.push(self.postings.len());
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

    /// The index of `term`, by binary search.
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

    /// Merges tables whose documents are disjoint and ascending in table order (the shards
    /// of a corpus, in shard order): each term's postings are the concatenation of its
    /// postings in each table, so they stay sorted by document.
    pub(crate) fn merge(tables: &[TermTable]) -> TermTable {
        // Number every distinct term and count its postings.
        let mut ids: FxHashMap<&str, usize> = FxHashMap::default();
        let mut counts: Vec<usize> = Vec::new();
        let local_ids: Vec<Vec<usize>> = tables
            .iter()
            .map(|t| {
                t.iter()
                    .map(|(term, postings)| {
                        let id = *ids.entry(term).or_insert_with(|| {
                            counts.push(0);
                            counts.len() - 1
                        });
                        counts[id] += postings.len();
                        id
                    })
                    .collect()
            })
            .collect();
        // Lay the terms out in sorted order and give each its slot of postings.
        let mut order: Vec<(&str, usize)> = ids.into_iter().collect();
        order.sort_unstable();
        let total: usize = counts.iter().sum();
        let mut out = TermTable::with_capacity(order.len(), 0);
        let mut next = vec![0usize; counts.len()];
        let mut at = 0;
        for &(term, id) in &order {
            out.text.push_str(term);
            out.term_ends.push(out.text.len());
            next[id] = at;
            at += counts[id];
            out.post_ends.push(at);
        }
        // Fill the slots, table by table.
        out.postings = vec![Posting { doc: 0, count: 0 }; total];
        for (table, ids) in tables.iter().zip(&local_ids) {
            for (i, &id) in ids.iter().enumerate() {
                let src = table.postings(i);
                out.postings[next[id]..next[id] + src.len()].copy_from_slice(src);
                next[id] += src.len();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(doc: u32, count: u32) -> Posting {
        Posting { doc, count }
    }

    #[test]
    fn push_find_and_merge() {
        let mut a = TermTable::default();
        a.push("ant", &[p(0, 1)]);
        a.push("cat", &[p(0, 2), p(1, 1)]);
        let mut b = TermTable::default();
        b.push("bee", &[p(2, 5)]);
        b.push("cat", &[p(3, 1)]);
        assert_eq!(a.find("cat"), Some(1));
        assert_eq!(a.find("bee"), None);
        let m = TermTable::merge(&[a, b, TermTable::default()]);
        let got: Vec<_> = m
            .iter()
            .map(|(t, ps)| (t.to_owned(), ps.to_vec()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ant".to_owned(), vec![p(0, 1)]),
                ("bee".to_owned(), vec![p(2, 5)]),
                ("cat".to_owned(), vec![p(0, 2), p(1, 1), p(3, 1)]),
            ]
        );
        assert_eq!(m.postings_len(), 5);
        assert_eq!(TermTable::merge(&[]).len(), 0);
    }
}
