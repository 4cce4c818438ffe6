//! Merging shard tables into the sorted segments of the whole index, in parallel.
//!
//! The term space is cut into contiguous ranges by each term's first two bytes, sized
//! from a sample so that each range holds a similar number of shard entries. Each
//! range is then merged on its own (on the current rayon pool): its distinct terms are
//! found with a hash table, sorted, and given their postings, shard by shard, so every
//! term's postings stay in document order. The ranges are in term order, so the
//! segments, one per range, need no final merge.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rayon::prelude::*;
use rustc_hash::FxBuildHasher;

use crate::shard_index::Posting;
use crate::term_table::TermTable;

/// Below this many shard entries in all, one range: splitting would not pay.
const SMALL: usize = 1 << 15;

/// Every this-many-th entry of each table goes into the sample.
const SAMPLE_STEP: usize = 8;

/// The range key of a term: its first two bytes (a term is never empty, and a missing
/// second byte is 0, which sorts before every byte a term holds).
#[inline]
fn key(term: &str) -> usize {
    let b = term.as_bytes();
    (usize::from(b[0]) << 8) | usize::from(b.get(1).copied().unwrap_or(0))
}

/// The first 8 bytes of `term`, big-endian, zero-padded: in the order of the terms
/// (a term holds no zero byte, so a shorter term's padding sorts first, as it should).
#[inline]
fn prefix8(term: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = term.len().min(8);
    b[..n].copy_from_slice(&term.as_bytes()[..n]);
    u64::from_be_bytes(b)
}

/// One shard's table and the number its first indexed document has in the whole index.
pub(crate) type Input<'a> = (&'a TermTable, u32);

/// Merges `inputs` (in document order: each table's documents come after the
/// previous table's) into segments in term order.
pub(crate) fn merge(inputs: &[Input<'_>]) -> Vec<TermTable> {
    let total: usize = inputs.iter().map(|(t, _)| t.len()).sum();
    if total == 0 {
        return Vec::new();
    }
    let ranges = if total < SMALL {
        1
    } else {
        (rayon::current_num_threads() * 4).clamp(1, 256)
    };
    let range_of = range_table(inputs, ranges);
    // Each table's entry numbers, grouped by range.
    let grouped: Vec<(Vec<u32>, Vec<usize>)> = inputs
        .par_iter()
        .map(|(table, _)| group(table, &range_of, ranges))
        .collect();
    (0..ranges)
        .into_par_iter()
        .map(|r| merge_range(inputs, &grouped, r))
        .filter(|t| t.len() > 0)
        .collect()
}

/// For each key, its range: contiguous and ascending in key order.
fn range_table(inputs: &[Input<'_>], ranges: usize) -> Vec<u16> {
    let mut hist = vec![0u64; 1 << 16];
    if ranges > 1 {
        for (table, _) in inputs {
            for i in (0..table.len()).step_by(SAMPLE_STEP) {
                hist[key(table.term(i))] += 1;
            }
        }
    }
    let sampled: u64 = hist.iter().sum::<u64>().max(1);
    let mut acc = 0u64;
    hist.iter()
        .map(|&n| {
            let r = ((acc * ranges as u64) / sampled).min(ranges as u64 - 1);
            acc += n;
            r as u16
        })
        .collect()
}

/// `table`'s entry numbers grouped by range (ascending within each), and where each
/// range's group starts (`ranges + 1` offsets).
fn group(table: &TermTable, range_of: &[u16], ranges: usize) -> (Vec<u32>, Vec<usize>) {
    let of: Vec<u16> = (0..table.len())
        .map(|i| range_of[key(table.term(i))])
        .collect();
    let mut starts = vec![0usize; ranges + 1];
    for &r in &of {
        starts[r as usize + 1] += 1;
    }
    for r in 0..ranges {
        starts[r + 1] += starts[r];
    }
    let mut next = starts.clone();
    let mut order = vec![0u32; of.len()];
    for (i, &r) in of.iter().enumerate() {
        order[next[r as usize]] = i as u32;
        next[r as usize] += 1;
    }
    (order, starts)
}

/// The segment of range `r`.
fn merge_range(inputs: &[Input<'_>], grouped: &[(Vec<u32>, Vec<usize>)], r: usize) -> TermTable {
    let entries = |s: usize| {
        let (order, starts) = &grouped[s];
        &order[starts[r]..starts[r + 1]]
    };
    // Number the range's distinct terms and count their postings. There are at most
    // as many as entries, and usually a good fraction of them: room for all up front.
    let n: usize = (0..inputs.len()).map(|s| entries(s).len()).sum();
    let mut table: HashTable<u32> = HashTable::with_capacity(n);
    let mut terms: Vec<&str> = Vec::with_capacity(n);
    let mut hashes: Vec<u64> = Vec::with_capacity(n);
    let mut counts: Vec<usize> = Vec::with_capacity(n);
    let mut ids: Vec<u32> = Vec::with_capacity(n);
    for (s, (shard, _)) in inputs.iter().enumerate() {
        for &i in entries(s) {
            let term = shard.term(i as usize);
            let hash = FxBuildHasher.hash_one(term);
            let id = match table.find(hash, |&id| terms[id as usize] == term) {
                Some(&id) => id,
                None => {
                    let id = terms.len() as u32;
                    terms.push(term);
                    hashes.push(hash);
                    counts.push(0);
                    table.insert_unique(hash, id, |&id| hashes[id as usize]);
                    id
                }
            };
            counts[id as usize] += shard.postings(i as usize).len();
            ids.push(id);
        }
    }
    drop(table);
    // Lay the terms out in byte order, each with its slot of postings.
    // Sorted by their first 8 bytes as a number, and by the rest only on a tie: most
    // comparisons are one integer comparison instead of a call to memcmp.
    let mut keyed: Vec<(u64, u32)> = terms
        .iter()
        .enumerate()
        .map(|(id, t)| (prefix8(t), id as u32))
        .collect();
    keyed.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            let rest = |id: u32| terms[id as usize].as_bytes().get(8..).unwrap_or_default();
            rest(a.1).cmp(rest(b.1))
        })
    });
    let order: Vec<u32> = keyed.into_iter().map(|(_, id)| id).collect();
    let text_len: usize = terms.iter().map(|t| t.len()).sum();
    let mut text = String::with_capacity(text_len);
    let mut term_ends = Vec::with_capacity(terms.len());
    let mut post_ends = Vec::with_capacity(terms.len());
    let mut next = vec![0usize; terms.len()];
    let mut at = 0;
    for &id in &order {
        text.push_str(terms[id as usize]);
        term_ends.push(text.len());
        next[id as usize] = at;
        at += counts[id as usize];
        post_ends.push(at);
    }
    // Fill the slots shard by shard, renumbering documents for the whole index.
    let mut postings = vec![Posting { doc: 0, count: 0 }; at];
    let mut ids = ids.into_iter();
    for (s, (shard, base)) in inputs.iter().enumerate() {
        for &i in entries(s) {
            let Some(id) = ids.next() else { break };
            let src = shard.postings(i as usize);
            let slot = &mut next[id as usize];
            for (dst, p) in postings[*slot..*slot + src.len()].iter_mut().zip(src) {
                *dst = Posting {
                    doc: p.doc + base,
                    count: p.count,
                };
            }
            *slot += src.len();
        }
    }
    TermTable::from_parts(text, term_ends, post_ends, postings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard_builder::ShardBuilder;

    fn shard(texts: &[&str]) -> TermTable {
        let mut b = ShardBuilder::new(0..texts.len() as u32);
        for t in texts {
            b.add(t, || Ok::<_, ()>(())).unwrap();
        }
        b.finish().table
    }

    fn flat(segments: &[TermTable]) -> Vec<(String, Vec<Posting>)> {
        segments
            .iter()
            .flat_map(|s| s.iter().map(|(t, p)| (t.to_owned(), p.to_vec())))
            .collect()
    }

    #[test]
    fn merges_in_term_order_with_documents_renumbered() {
        let a = shard(&["cat ant", "cat"]);
        let b = shard(&["bee cat"]);
        let empty = shard(&[]);
        let got = flat(&merge(&[(&a, 0), (&empty, 2), (&b, 2)]));
        let p = |doc, count| Posting { doc, count };
        assert_eq!(
            got,
            vec![
                ("ant".to_owned(), vec![p(0, 1)]),
                ("bee".to_owned(), vec![p(2, 1)]),
                ("cat".to_owned(), vec![p(0, 1), p(1, 1), p(2, 1)]),
            ]
        );
        assert!(merge(&[]).is_empty());
    }

    #[test]
    fn many_ranges_give_the_same_index_as_one() {
        // Enough distinct terms for several ranges, on a pool of 3 threads.
        let words: Vec<String> = (0..40_000u32)
            .map(|i| format!("{}{}", (b'a' + (i % 26) as u8) as char, i * 7919 % 100_003))
            .collect();
        let tables: Vec<TermTable> = words
            .chunks(997)
            .map(|c| shard(&[&c.join(" "), &c[..c.len() / 2].join(" ")]))
            .collect();
        let inputs: Vec<Input<'_>> = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t, 2 * i as u32))
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let parallel = pool.install(|| merge(&inputs));
        assert!(parallel.len() > 4, "{} segments", parallel.len());
        let got = flat(&parallel);
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "term order");
        let mut want: std::collections::BTreeMap<String, Vec<Posting>> = Default::default();
        for (t, base) in &inputs {
            for (term, ps) in t.iter() {
                want.entry(term.to_owned())
                    .or_default()
                    .extend(ps.iter().map(|p| Posting {
                        doc: p.doc + base,
                        count: p.count,
                    }));
            }
        }
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    }
}
