//! The baseline: the plain rayon indexer a user writes without fault tolerance.
//!
//! walkdir lists the files (hidden entries left out, links followed, each file once, as
//! the job does); a rayon fold reads each file whole, decodes and tokenises it with the
//! job's own `decode_text` and `tokenize`, and counts terms in a hash map of term to
//! postings per split (a few per thread); one merge joins the maps; the terms are
//! sorted (in parallel) and written with varints. No checkpoints, no heartbeats, no
//! fingerprints, no fsync.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use snapstate_search::{decode_text, tokenize, Posting};
use walkdir::WalkDir;

/// What the plain indexer built, to check it built what the job builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PlainStats {
    pub(crate) docs: u64,
    pub(crate) terms: u64,
    pub(crate) postings: u64,
    pub(crate) bytes: u64,
}

/// The files under `dir`, as the job's walk finds them on a tree without ignore files:
/// no hidden entries, links followed, a file reached twice listed once.
pub(crate) fn list(dir: &Path) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().as_encoded_bytes().starts_with(b"."))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| match e.metadata() {
            Ok(m) => seen.insert(file_id(&m, e.path())),
            Err(_) => false,
        })
        .map(walkdir::DirEntry::into_path)
        .collect()
}

#[cfg(unix)]
fn file_id(m: &fs::Metadata, _: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn file_id(_: &fs::Metadata, path: &Path) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    fs::canonicalize(path).unwrap_or_default().hash(&mut h);
    (0, h.finish())
}

type Map = FxHashMap<String, Vec<Posting>>;

#[derive(Default)]
struct Part {
    map: Map,
    docs: u64,
    bytes: u64,
}

/// Indexes the files under `dir` into `out`, on the current rayon pool.
pub(crate) fn index(dir: &Path, out: &Path) -> PlainStats {
    let files = list(dir);
    // A few maps per thread: enough to balance the load, few enough that the one
    // merge stays small (unbounded, rayon's fold makes a map per split: 130 of them
    // at 4 threads, and merging those costs more than it saves).
    let min_len = files.len().div_ceil(rayon::current_num_threads() * 4);
    let parts: Vec<Part> = files
        .par_iter()
        .with_min_len(min_len.max(1))
        .enumerate()
        .fold(Part::default, |mut part, (doc, path)| {
            let Ok(bytes) = fs::read(path) else {
                return part;
            };
            let Some(text) = decode_text(&bytes) else {
                return part;
            };
            let doc = doc as u32;
            part.docs += 1;
            part.bytes += text.len() as u64;
            tokenize(&text, |t| match part.map.get_mut(t) {
                Some(postings) => match postings.last_mut() {
                    Some(last) if last.doc == doc => last.count += 1,
                    _ => postings.push(Posting { doc, count: 1 }),
                },
                None => {
                    part.map
                        .insert(t.to_owned(), vec![Posting { doc, count: 1 }]);
                }
            });
            part
        })
        .collect();
    // One merge. The parts cover ascending runs of documents, in order.
    let mut parts = parts.into_iter();
    let mut first = parts.next().unwrap_or_default();
    for part in parts {
        first.docs += part.docs;
        first.bytes += part.bytes;
        for (term, postings) in part.map {
            first.map.entry(term).or_default().extend(postings);
        }
    }
    let mut terms: Vec<(String, Vec<Posting>)> = first.map.into_iter().collect();
    terms.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut bytes = Vec::new();
    let mut postings = 0;
    for (term, list) in &terms {
        put(&mut bytes, term.len() as u64);
        bytes.extend_from_slice(term.as_bytes());
        put(&mut bytes, list.len() as u64);
        let mut prev = 0;
        for p in list {
            assert!(p.doc >= prev, "the parts came out of order");
            put(&mut bytes, u64::from(p.doc - prev));
            put(&mut bytes, u64::from(p.count));
            prev = p.doc;
        }
        postings += list.len() as u64;
    }
    fs::write(out.join("plain.idx"), &bytes).expect("write the plain index");
    PlainStats {
        docs: first.docs,
        terms: terms.len() as u64,
        postings,
        bytes: first.bytes,
    }
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
