//! The boundary to the core's durable checkpoints of the progress array
//! (`SnapshotArray::write_checkpoint` / `restore_checkpoint`: magic, format version,
//! CRC-32C, atomic replace).

use std::path::Path;

use snapstate::{CheckpointError, SnapshotArray, SnapshotId};

/// All node states at `snap`.
pub(crate) fn fetch_all(
    array: &SnapshotArray<u64>,
    snap: SnapshotId,
) -> Result<Vec<u64>, snapstate::Error> {
    array.fetch_all(snap)
}

/// Atomically writes snapshot `snap` of `array` to `path`.
pub(crate) fn save(
    array: &SnapshotArray<u64>,
    snap: SnapshotId,
    path: &Path,
) -> Result<(), CheckpointError> {
    array.write_checkpoint(snap, path)
}

/// Restores an array whose snapshot `snap` reads as the saved one; its next `snap()`
/// returns `snap + 1`.
pub(crate) fn load(path: &Path) -> Result<(SnapshotArray<u64>, SnapshotId), CheckpointError> {
    SnapshotArray::restore_checkpoint(path)
}
