//! The boundary to the core's durable checkpoints of the progress array.
//!
//! TEMPORARY: until `SnapshotArray::write_checkpoint` / `restore_checkpoint` land in the
//! core (issue 5), this writes its own small file with the same promises (magic, version,
//! checksum, atomic replace). Only this file changes when they land.

use std::fmt;
use std::path::Path;

use snapstate::{SnapshotArray, SnapshotId};

use crate::checksum::fnv1a64;
use crate::fsutil::write_atomic;

const MAGIC: &[u8; 8] = b"SNAPPRG0";

/// Why the progress checkpoint could not be written or read.
#[derive(Debug)]
pub(crate) struct ProgressError(String);

impl fmt::Display for ProgressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// All node states at `snap`.
pub(crate) fn fetch_all(
    array: &SnapshotArray<u64>,
    snap: SnapshotId,
) -> Result<Vec<u64>, snapstate::Error> {
    (0..array.len())
        .map(|i| array.fetch_state(i, snap))
        .collect()
}

/// Atomically writes snapshot `snap` of `array` to `path`.
pub(crate) fn save(
    array: &SnapshotArray<u64>,
    snap: SnapshotId,
    path: &Path,
) -> Result<(), ProgressError> {
    let values = fetch_all(array, snap).map_err(|e| ProgressError(e.to_string()))?;
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(values.len() as u64).to_le_bytes());
    out.extend_from_slice(&snap.get().to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let sum = fnv1a64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    write_atomic(path, &out).map_err(|e| ProgressError(e.to_string()))
}

/// Restores an array whose snapshot `snap` reads as the saved one; its next `snap()`
/// returns `snap + 1`.
pub(crate) fn load(path: &Path) -> Result<(SnapshotArray<u64>, SnapshotId), ProgressError> {
    let file = std::fs::read(path).map_err(|e| ProgressError(e.to_string()))?;
    let bad = |why: &str| ProgressError(why.to_owned());
    if file.len() < 32 || &file[..8] != MAGIC {
        return Err(bad("bad magic or too short"));
    }
    let (body, sum) = file.split_at(file.len() - 8);
    if fnv1a64(body) != u64::from_le_bytes(sum.try_into().map_err(|_| bad("short"))?) {
        return Err(bad("checksum mismatch"));
    }
    let word =
        |i: usize| u64::from_le_bytes(body[8 + 8 * i..16 + 8 * i].try_into().unwrap_or([0; 8]));
    let n = word(0) as usize;
    if body.len() != 24 + 8 * n {
        return Err(bad("length does not match the node count"));
    }
    let snap = word(1);
    if snap > u64::from(u32::MAX) {
        return Err(bad("snapshot id out of range"));
    }
    let array = SnapshotArray::new(n);
    for i in 0..n {
        array
            .set_state(i, word(2 + i))
            .map_err(|e| ProgressError(e.to_string()))?;
    }
    for _ in 0..=snap {
        array.snap();
    }
    Ok((array, SnapshotId::from(snap)))
}
