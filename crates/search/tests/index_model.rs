//! The index is right, not just repeatable: the sharded, coordinated build and the file it
//! writes agree with a naive one-pass index of the same documents.

use std::collections::BTreeMap;
use std::sync::Arc;

use snapstate_coordinator::{Coordinator, CoordinatorConfig, NoopObserver};
use snapstate_search::{
    tokenize, write_index, Corpus, IndexFile, IndexJob, InvertedIndex, Posting,
};

/// term -> doc -> count, by the obvious method.
fn naive(corpus: &Corpus) -> BTreeMap<String, BTreeMap<u32, u32>> {
    let mut index: BTreeMap<String, BTreeMap<u32, u32>> = BTreeMap::new();
    for doc in 0..corpus.docs() {
        tokenize(&corpus.text(doc).unwrap(), |t| {
            *index
                .entry(t.to_owned())
                .or_default()
                .entry(doc)
                .or_default() += 1;
        });
    }
    index
}

fn as_postings(docs: &BTreeMap<u32, u32>) -> Vec<Posting> {
    docs.iter()
        .map(|(&doc, &count)| Posting { doc, count })
        .collect()
}

#[test]
fn coordinated_index_and_its_file_match_a_naive_index() {
    let corpus = Corpus::generated(150, 7, 42);
    let want = naive(&corpus);
    let run = Coordinator::new(
        IndexJob::new(corpus.clone()),
        CoordinatorConfig::new(3).unwrap(),
    )
    .run(Arc::new(NoopObserver))
    .unwrap();
    let index = InvertedIndex::merge(&corpus, run.outputs);
    assert_eq!(
        index.terms().collect::<Vec<_>>(),
        want.keys().map(String::as_str).collect::<Vec<_>>()
    );
    let postings: usize = want.values().map(BTreeMap::len).sum();
    assert_eq!(index.stats().postings, postings as u64);
    assert_eq!(index.stats().terms, want.len() as u64);

    let dir = tempfile::tempdir().unwrap();
    let written = write_index(&index, dir.path()).unwrap();
    let file = IndexFile::open(dir.path()).unwrap();
    assert_eq!(file.checksum(), written.checksum);
    for (i, (term, docs)) in want.iter().enumerate() {
        let expected = as_postings(docs);
        assert_eq!(index.postings(term), Some(&expected[..]), "{term}");
        // A file lookup scans the term table; a sample (first, last, every 31st) keeps
        // this quick in a debug build.
        if i % 31 == 0 || i + 1 == want.len() {
            let got = file.postings(term).unwrap();
            assert_eq!(got, Some(expected), "{term} from the file");
        }
    }
    assert_eq!(file.postings("notaterm").unwrap(), None);

    // A two-term query is the intersection, ranked by total occurrences.
    let mut terms = want.keys().take(2);
    let (a, b) = (terms.next().unwrap(), terms.next().unwrap());
    let result = file
        .query(&format!("{a} {}", b.to_uppercase()), usize::MAX)
        .unwrap();
    let both: Vec<u32> = want[a]
        .keys()
        .filter(|d| want[b].contains_key(d))
        .copied()
        .collect();
    let mut got: Vec<u32> = result.hits.iter().map(|h| h.doc).collect();
    got.sort_unstable();
    assert_eq!(got, both);
    let scores: Vec<u32> = result.hits.iter().map(|h| h.counts.iter().sum()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first");
}

#[test]
fn a_truncated_or_damaged_index_file_is_refused() {
    let corpus = Corpus::generated(30, 3, 1);
    let job = IndexJob::new(corpus.clone());
    let run = Coordinator::new(job, CoordinatorConfig::new(1).unwrap())
        .run(Arc::new(NoopObserver))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_index(&InvertedIndex::merge(&corpus, run.outputs), dir.path()).unwrap();
    let path = dir.path().join("index.snapidx");
    let good = std::fs::read(&path).unwrap();
    for cut in [0, 5, good.len() / 2, good.len() - 1] {
        std::fs::write(&path, &good[..cut]).unwrap();
        assert!(IndexFile::open(dir.path()).is_err(), "truncated to {cut}");
    }
    let mut bad = good.clone();
    bad[good.len() / 3] ^= 0x10;
    std::fs::write(&path, &bad).unwrap();
    let err = IndexFile::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("checksum"), "{err}");
}
