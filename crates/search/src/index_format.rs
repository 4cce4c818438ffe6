//! The index on disk: its layout, and writing it (encoded in parallel, replaced
//! atomically).
//!
//! Layout of `index.snapidx` (version 2):
//!
//! | part | contents |
//! | --- | --- |
//! | magic | `SNAPIDX2` |
//! | header | the corpus description (length-prefixed); varint counts of documents, terms, postings, tokens and bytes; each document name (length-prefixed) |
//! | offset width | one byte, 4 or 8 |
//! | term offsets | one little-endian offset of that width per term: where its entry starts in the entries |
//! | entries | per term, in byte order: the term (length-prefixed), its posting count, then (document-id delta, count) varint pairs |
//! | trailer | BLAKE3 of all the preceding bytes (32 bytes) |
//!
//! The fixed-width offsets let a query find a term by binary search without reading
//! the rest of the table. The index's checksum, as printed, is the first 8 bytes of the
//! trailer as a little-endian `u64`. Nothing in the file depends on timing, failures,
//! threads or where the input directory is, so the same corpus gives the same bytes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use snapstate_coordinator::write_atomic;

use crate::codec::{put_bytes, put_varint};
use crate::index::InvertedIndex;
use crate::index_file::IndexFileError;
use crate::term_table::TermTable;

/// The index's file name inside the output directory.
pub const INDEX_FILE: &str = "index.snapidx";
pub(crate) const MAGIC: &[u8; 8] = b"SNAPIDX2";
/// Bytes of the BLAKE3 trailer.
pub(crate) const TRAILER: usize = 32;

/// Where an index was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenIndex {
    /// The index file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its checksum (the first 8 bytes of its BLAKE3 trailer).
    pub checksum: u64,
}

/// The printed checksum of a trailer.
pub(crate) fn checksum_of(trailer: &[u8; TRAILER]) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&trailer[..8]);
    u64::from_le_bytes(first)
}

/// One segment's entries, and where each starts within them.
fn encode_segment(segment: &TermTable) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::with_capacity(segment.postings_len() * 3 + segment.len() * 10);
    let mut starts = Vec::with_capacity(segment.len());
    for (term, postings) in segment.iter() {
        starts.push(out.len() as u64);
        put_bytes(&mut out, term.as_bytes());
        put_varint(&mut out, postings.len() as u64);
        let mut prev = 0;
        for p in postings {
            put_varint(&mut out, u64::from(p.doc - prev));
            put_varint(&mut out, u64::from(p.count));
            prev = p.doc;
        }
    }
    (out, starts)
}

/// The bytes of `index`'s file, and its checksum; the entries are encoded on the
/// current rayon pool.
pub fn encode_index(index: &InvertedIndex) -> (Vec<u8>, u64) {
    let parts: Vec<(Vec<u8>, Vec<u64>)> = index.segments.par_iter().map(encode_segment).collect();
    let s = &index.stats;
    let mut out = MAGIC.to_vec();
    put_bytes(&mut out, index.description.as_bytes());
    for v in [s.docs, s.terms, s.postings, s.tokens, s.bytes] {
        put_varint(&mut out, v);
    }
    for name in &index.doc_names {
        put_bytes(&mut out, name.as_bytes());
    }
    let entries: usize = parts.iter().map(|(bytes, _)| bytes.len()).sum();
    let width: usize = if entries <= u32::MAX as usize { 4 } else { 8 };
    out.push(width as u8);
    out.reserve(s.terms as usize * width + entries + TRAILER);
    let mut base = 0u64;
    for (bytes, starts) in &parts {
        for &start in starts {
            out.extend_from_slice(&(base + start).to_le_bytes()[..width]);
        }
        base += bytes.len() as u64;
    }
    for (bytes, _) in &parts {
        out.extend_from_slice(bytes);
    }
    let trailer: [u8; TRAILER] = *blake3::hash(&out).as_bytes();
    out.extend_from_slice(&trailer);
    (out, checksum_of(&trailer))
}

/// Writes `index` to `dir/index.snapidx`, creating `dir`. The file appears complete or
/// not at all: it is written under a temporary name, synced, and renamed into place, so
/// an index left by an earlier run stays intact until the new one replaces it.
///
/// # Errors
///
/// [`IndexFileError::Io`] if the directory or file cannot be written.
pub fn write_index(
    index: &InvertedIndex,
    dir: impl AsRef<Path>,
) -> Result<WrittenIndex, IndexFileError> {
    let dir = dir.as_ref();
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source: io::Error| IndexFileError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    // A run killed while writing left its temporary file here; nothing else removes it.
    snapstate_coordinator::remove_temp_files(dir).map_err(io_err(dir))?;
    let path = dir.join(INDEX_FILE);
    let (bytes, checksum) = encode_index(index);
    write_atomic(&path, &bytes).map_err(io_err(&path))?;
    Ok(WrittenIndex {
        path,
        bytes: bytes.len() as u64,
        checksum,
    })
}
