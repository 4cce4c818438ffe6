//! The index is right, not just repeatable: the sharded, coordinated build and the file it
//! writes agree with a naive one-pass index of the same documents, for a generated
//! corpus and for a directory holding every kind of file the walk must handle.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use snapstate_coordinator::{Coordinator, CoordinatorConfig, NoopObserver};
use snapstate_search::{
    decode_text, tokenize, write_index, Corpus, IndexFile, IndexJob, InvertedIndex, Posting,
    SkipReason,
};

type Naive = BTreeMap<String, BTreeMap<u32, u32>>;

/// term -> doc -> count, by the obvious method, over texts in document order.
fn naive<'a>(texts: impl IntoIterator<Item = &'a str>) -> Naive {
    let mut index = Naive::new();
    for (doc, text) in texts.into_iter().enumerate() {
        tokenize(text, |t| {
            *index
                .entry(t.to_owned())
                .or_default()
                .entry(doc as u32)
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

fn build(corpus: &Corpus, workers: usize) -> InvertedIndex {
    let run = Coordinator::new(
        IndexJob::new(corpus.clone()),
        CoordinatorConfig::new(workers).unwrap(),
    )
    .run(Arc::new(NoopObserver))
    .unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .unwrap();
    pool.install(|| InvertedIndex::merge(corpus, run.outputs))
}

/// The index, and the file written from it, hold exactly the naive index.
fn check(index: &InvertedIndex, want: &Naive, dir: &Path) {
    assert_eq!(
        index.terms().collect::<Vec<_>>(),
        want.keys().map(String::as_str).collect::<Vec<_>>()
    );
    let postings: usize = want.values().map(BTreeMap::len).sum();
    assert_eq!(index.stats().postings, postings as u64);
    assert_eq!(index.stats().terms, want.len() as u64);
    let written = write_index(index, dir).unwrap();
    let file = IndexFile::open(dir).unwrap();
    assert_eq!(file.checksum(), written.checksum);
    assert_eq!(file.stats(), index.stats());
    for (term, docs) in want {
        let expected = as_postings(docs);
        assert_eq!(index.postings(term), Some(&expected[..]), "{term}");
        assert_eq!(
            file.postings(term).unwrap(),
            Some(expected),
            "{term} from the file"
        );
    }
    for absent in ["", "0notaterm", "zzzzzzzz", "\u{10FFFF}"] {
        assert_eq!(file.postings(absent).unwrap(), None, "{absent:?}");
        assert_eq!(index.postings(absent), None, "{absent:?}");
    }
}

#[test]
fn coordinated_index_and_its_file_match_a_naive_index() {
    let corpus = Corpus::generated(150, 7, 42);
    let texts: Vec<String> = (0..corpus.docs())
        .map(|d| corpus.text(d).unwrap().unwrap())
        .collect();
    let want = naive(texts.iter().map(String::as_str));
    let index = build(&corpus, 3);
    let dir = tempfile::tempdir().unwrap();
    check(&index, &want, dir.path());

    // A two-term query is the intersection, ranked by total occurrences.
    let file = IndexFile::open(dir.path()).unwrap();
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

/// A directory with every kind of entry the walk meets; returns the files that are
/// candidates for the index, by name, in name order.
#[cfg(unix)]
fn awkward_tree(root: &Path) -> Vec<(String, std::path::PathBuf)> {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::symlink;

    let w = |rel: &str, bytes: &[u8]| {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    };
    w("a.txt", b"Alpha beta alpha. The end");
    w("b/deep/n.md", "Größe und Grösse, naïve café".as_bytes());
    w(
        "latin1.txt",
        b"Gr\xF6\xDFe in Latin-1; caf\xE9 \x93quoted\x94",
    );
    let mut mixed = "naïve utf8 ".as_bytes().to_vec();
    mixed.extend_from_slice(b"then na\xEFve latin1");
    w("mixed.txt", &mixed);
    w("sub/c.md", b"gamma delta GAMMA");
    w("empty.txt", b"");
    w("bin.dat", b"alpha\0beta");
    // Random bytes with no NUL: not text, though nothing in them is a NUL byte.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 255) as u8 + 1
        })
        .collect();
    w("noise.bin", &noise);
    w(".hidden", b"hidden words");
    w(".git/config", b"hidden too");
    w(".gitignore", b"*.log\n");
    w("x.log", b"ignored words");
    fs::write(
        root.join(OsStr::from_bytes(b"caf\xE9.txt")),
        b"latin one name",
    )
    .unwrap();
    symlink("a.txt", root.join("link.txt")).unwrap();
    symlink("sub", root.join("alias")).unwrap();
    symlink("nowhere", root.join("dangling")).unwrap();
    fs::create_dir(root.join("loop")).unwrap();
    symlink("self", root.join("loop/self")).unwrap();
    symlink("..", root.join("loop/up")).unwrap();
    // A file that cannot be read, for any user (reading address 0 of a process's
    // memory fails with EIO).
    if Path::new("/proc/self/mem").exists() {
        symlink("/proc/self/mem", root.join("unreadable")).unwrap();
    }
    let mut candidates: Vec<(String, std::path::PathBuf)> = [
        "a.txt",
        "b/deep/n.md",
        "bin.dat",
        "empty.txt",
        "latin1.txt",
        "mixed.txt",
        "noise.bin",
        "sub/c.md",
    ]
    .iter()
    .map(|n| (n.to_string(), root.join(n)))
    .collect();
    candidates.push((
        "caf\\xE9.txt".to_owned(),
        root.join(OsStr::from_bytes(b"caf\xE9.txt")),
    ));
    if Path::new("/proc/self/mem").exists() {
        candidates.push(("unreadable".to_owned(), root.join("unreadable")));
    }
    // In the order of the names' bytes (\xE9 sorts after ASCII letters).
    candidates.sort_by_key(|(n, _)| {
        if n.starts_with("caf") {
            b"caf\xE9.txt".to_vec()
        } else {
            n.as_bytes().to_vec()
        }
    });
    candidates
}

#[cfg(unix)]
#[test]
fn a_directory_of_awkward_files_indexes_like_the_naive_index() {
    let input = tempfile::tempdir().unwrap();
    let candidates = awkward_tree(input.path());
    // The naive index: read each candidate whole, decode, tokenise; what cannot be read
    // or is not text is left out, and the rest are numbered in order.
    let mut texts = Vec::new();
    let mut names = Vec::new();
    let mut left_out = Vec::new();
    for (name, path) in &candidates {
        match fs::read(path) {
            Err(_) => left_out.push((name.clone(), SkipReason::Unreadable)),
            Ok(bytes) => match decode_text(&bytes) {
                Some(text) => {
                    texts.push(text.into_owned());
                    names.push(name.clone());
                }
                None => left_out.push((name.clone(), SkipReason::Binary)),
            },
        }
    }
    let want = naive(texts.iter().map(String::as_str));
    assert!(
        want.contains_key("größe"),
        "Latin-1 decoded: {:?}",
        want.keys()
    );
    let latin1 = names.iter().position(|n| n == "latin1.txt").unwrap() as u32;
    assert!(want["größe"].contains_key(&latin1));
    assert!(
        want["naïve"].len() >= 2,
        "UTF-8 and Latin-1 halves of mixed.txt"
    );

    for shards in [1, 3, 64] {
        let corpus = Corpus::from_dir(input.path(), shards).unwrap();
        let index = build(&corpus, 3);
        let out = tempfile::tempdir().unwrap();
        check(&index, &want, out.path());
        let got_names: Vec<&str> = (0..index.stats().docs as u32)
            .map(|d| index.doc_name(d).unwrap())
            .collect();
        assert_eq!(got_names, names);
        // Every file left out, with its reason.
        let skipped: Vec<(String, SkipReason)> = index
            .skipped()
            .iter()
            .map(|s| (s.name.clone(), s.reason))
            .collect();
        let mut expected: Vec<(String, SkipReason)> = vec![
            (".git/".into(), SkipReason::Hidden),
            (".gitignore".into(), SkipReason::Hidden),
            (".hidden".into(), SkipReason::Hidden),
            ("alias/c.md".into(), SkipReason::Duplicate),
            ("dangling".into(), SkipReason::DanglingLink),
            ("link.txt".into(), SkipReason::Duplicate),
            ("loop/self".into(), SkipReason::SymlinkLoop),
            ("loop/up/".into(), SkipReason::SymlinkLoop),
            ("x.log".into(), SkipReason::Ignored),
        ];
        expected.extend(left_out.iter().cloned());
        expected.sort();
        assert_eq!(skipped, expected, "{shards} shards");
    }
}

#[test]
fn a_truncated_or_damaged_index_file_is_refused() {
    let corpus = Corpus::generated(30, 3, 1);
    let index = build(&corpus, 1);
    let dir = tempfile::tempdir().unwrap();
    write_index(&index, dir.path()).unwrap();
    let path = dir.path().join("index.snapidx");
    let good = fs::read(&path).unwrap();
    for cut in [0, 5, good.len() / 2, good.len() - 1] {
        fs::write(&path, &good[..cut]).unwrap();
        assert!(IndexFile::open(dir.path()).is_err(), "truncated to {cut}");
    }
    for at in [9, good.len() / 3, good.len() - 40, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        fs::write(&path, &bad).unwrap();
        let err = IndexFile::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("checksum"), "byte {at}: {err}");
    }
    // An index of the first version is refused with a message that says what to do.
    let mut old = b"SNAPIDX1".to_vec();
    old.extend_from_slice(&good[8..]);
    fs::write(&path, &old).unwrap();
    let err = IndexFile::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("another version"), "{err}");
}
