//! Durable checkpoints: one snapshot of an array in a file, written atomically.
//!
//! # Format (version 1, all integers little-endian)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `b"SNAPSTAT"` |
//! | 8 | 4 | format version, `1` |
//! | 12 | 4 | value encoding: `0` = `u64` values, `1` = postcard (serde) |
//! | 16 | 8 | node count `n` |
//! | 24 | 8 | snapshot id |
//! | 32 | 8 | payload length `p` |
//! | 40 | `p` | payload: `n` values (`8 * n` bytes for `u64`) |
//! | 40 + `p` | 4 | CRC-32C of every byte before it |
//!
//! The decoder checks, in order: the header is complete, the magic, the version, the
//! checksum, the encoding, and that the lengths agree. Any single corrupted byte or any
//! truncation is therefore an error, never a wrong array and never a panic.
//!
//! A write goes to a temporary file in the same directory, is flushed with `fsync`,
//! renamed over the target, and the directory is `fsync`ed: a crash leaves either the
//! old checkpoint or the new one, complete.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::array::Inner;
use crate::clock::MAX_EPOCH;
use crate::node::Node;
use crate::word::Word;
use crate::{Error, SnapshotArray, SnapshotId};

const MAGIC: &[u8; 8] = b"SNAPSTAT";
/// The format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const ENCODING_U64: u32 = 0;
#[cfg(feature = "serde")]
const ENCODING_POSTCARD: u32 = 1;
const HEADER: usize = 40;
const TRAILER: usize = 4;

/// Why a checkpoint could not be written or read.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file system refused.
    Io {
        /// The file involved.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The file does not start with the checkpoint magic number: not a checkpoint.
    BadMagic,
    /// The file was written by a format version this build does not read.
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The file ends before its header or its declared payload does.
    Truncated {
        /// Bytes the file should have.
        expected: u64,
        /// Bytes it has.
        found: u64,
    },
    /// The checksum does not match: the file is corrupt.
    ChecksumMismatch {
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of its contents.
        computed: u32,
    },
    /// The values are encoded differently from what was asked for (`u64` vs serde).
    WrongEncoding {
        /// The encoding in the file.
        found: u32,
        /// The encoding expected.
        expected: u32,
    },
    /// The header is inconsistent (lengths that do not agree, an impossible id).
    Malformed(String),
    /// The snapshot to write is not readable.
    Snapshot(Error),
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io { path, source } => {
                write!(f, "checkpoint {}: {source}", path.display())
            }
            CheckpointError::BadMagic => f.write_str("not a snapstate checkpoint (bad magic number)"),
            CheckpointError::UnsupportedVersion { found, supported } => write!(
                f,
                "checkpoint format version {found} is not supported (this build reads version {supported})"
            ),
            CheckpointError::Truncated { expected, found } => write!(
                f,
                "checkpoint is truncated: {found} bytes, expected {expected}"
            ),
            CheckpointError::ChecksumMismatch { stored, computed } => write!(
                f,
                "checkpoint is corrupt: checksum {computed:#010x} does not match the stored {stored:#010x}"
            ),
            CheckpointError::WrongEncoding { found, expected } => write!(
                f,
                "checkpoint values use encoding {found}, expected {expected}"
            ),
            CheckpointError::Malformed(why) => write!(f, "checkpoint is malformed: {why}"),
            CheckpointError::Snapshot(e) => write!(f, "cannot checkpoint: {e}"),
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            CheckpointError::Snapshot(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for CheckpointError {
    fn from(e: Error) -> Self {
        CheckpointError::Snapshot(e)
    }
}

/// Encodes `values` as the checkpoint of snapshot `snap`.
///
/// # Examples
///
/// ```
/// use snapstate::{checkpoint, SnapshotId};
///
/// let bytes = checkpoint::encode_u64(&[1, 2, 3], SnapshotId::from(7));
/// let (values, snap) = checkpoint::decode_u64(&bytes)?;
/// assert_eq!((values, snap.get()), (vec![1, 2, 3], 7));
/// # Ok::<(), snapstate::checkpoint::CheckpointError>(())
/// ```
pub fn encode_u64(values: &[u64], snap: SnapshotId) -> Vec<u8> {
    let payload: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    frame(ENCODING_U64, values.len() as u64, snap, &payload)
}

/// Decodes a checkpoint of `u64` values: the values and the snapshot id.
///
/// # Errors
///
/// Every way the bytes can fail to be a complete, intact checkpoint of `u64` values;
/// see [`CheckpointError`]. Never panics.
pub fn decode_u64(bytes: &[u8]) -> Result<(Vec<u64>, SnapshotId), CheckpointError> {
    let (n, snap, payload) = unframe(bytes, ENCODING_U64)?;
    if payload.len() as u64 != n.saturating_mul(8) {
        return Err(CheckpointError::Malformed(format!(
            "{n} nodes need {} payload bytes, found {}",
            n.saturating_mul(8),
            payload.len()
        )));
    }
    let values = payload
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("chunks of 8")))
        .collect();
    Ok((values, snap))
}

fn frame(encoding: u32, n: u64, snap: SnapshotId, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len() + TRAILER);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&encoding.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&snap.get().to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks the frame and returns `(node count, snapshot, payload)`.
fn unframe(bytes: &[u8], encoding: u32) -> Result<(u64, SnapshotId, &[u8]), CheckpointError> {
    let found = bytes.len() as u64;
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        // A file too short to hold the magic is only "truncated" if what it holds is a
        // prefix of the magic; anything else is not a checkpoint at all.
        if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
            return Err(CheckpointError::Truncated {
                expected: (HEADER + TRAILER) as u64,
                found,
            });
        }
        return Err(CheckpointError::BadMagic);
    }
    if bytes.len() < HEADER + TRAILER {
        return Err(CheckpointError::Truncated {
            expected: (HEADER + TRAILER) as u64,
            found,
        });
    }
    let version = le_u32(bytes, 8);
    if version != FORMAT_VERSION {
        return Err(CheckpointError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let declared = le_u64(bytes, 32);
    let expected = (HEADER as u64)
        .saturating_add(declared)
        .saturating_add(TRAILER as u64);
    if found < expected {
        return Err(CheckpointError::Truncated { expected, found });
    }
    if found > expected {
        return Err(CheckpointError::Malformed(format!(
            "{} bytes after the checksum",
            found - expected
        )));
    }
    let body = bytes.len() - TRAILER;
    let stored = le_u32(bytes, body);
    let computed = crc32c::crc32c(&bytes[..body]);
    if stored != computed {
        return Err(CheckpointError::ChecksumMismatch { stored, computed });
    }
    let found_encoding = le_u32(bytes, 12);
    if found_encoding != encoding {
        return Err(CheckpointError::WrongEncoding {
            found: found_encoding,
            expected: encoding,
        });
    }
    let n = le_u64(bytes, 16);
    let snap = le_u64(bytes, 24);
    if snap >= MAX_EPOCH {
        return Err(CheckpointError::Malformed(format!(
            "snapshot id {snap} is beyond the largest possible"
        )));
    }
    Ok((n, SnapshotId::from(snap), &bytes[HEADER..body]))
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync of the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CheckpointError::Io { path, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| CheckpointError::Io {
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
        })?
        .to_string_lossy()
        .into_owned();
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    // Relaxed: a unique suffix only.
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp).map_err(io(&tmp))?;
        file.write_all(bytes).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io(path))?;
        fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&dir))
    })();
    if result.is_err() {
        // Best effort: the temp file is garbage either way.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn read(path: &Path) -> Result<Vec<u8>, CheckpointError> {
    fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl<T: Clone + Send + Sync + 'static> Inner<T> {
    /// A restored array's state: `values` as of snapshot `snap`, readable from `snap`
    /// on, next snapshot `snap + 1`. Nodes equal to `initial` get no version.
    fn restored(values: Vec<T>, snap: u64, initial: T, skip: impl Fn(&T) -> bool) -> Self {
        let nodes = values
            .into_iter()
            .map(|v| {
                if skip(&v) {
                    Node::default()
                } else {
                    Node::with_version(snap, Word::<T>::encode(v))
                }
            })
            .collect();
        Inner::new(nodes, initial, snap + 1, None)
    }
}

impl SnapshotArray<u64> {
    /// Writes snapshot `snap` to a checkpoint file at `path`, atomically.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Snapshot`] if `snap` is not readable; [`CheckpointError::Io`]
    /// if the file system refuses (the previous file at `path`, if any, is untouched).
    ///
    /// # Examples
    ///
    /// ```
    /// use snapstate::SnapshotArray;
    /// # if cfg!(miri) { return Ok(()); } // Miri's isolation has no file system
    ///
    /// let dir = std::env::temp_dir().join(format!("snapstate-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("progress.ckpt");
    ///
    /// let array: SnapshotArray = SnapshotArray::new(3);
    /// array.set_state(1, 40)?;
    /// let s = array.snap();
    /// array.write_checkpoint(s, &path)?;
    ///
    /// let (restored, at) = SnapshotArray::restore_checkpoint(&path)?;
    /// assert_eq!(at, s);
    /// assert_eq!(restored.fetch_all(at)?, vec![0, 40, 0]);
    /// assert_eq!(restored.snap().get(), s.get() + 1);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_checkpoint(
        &self,
        snap: SnapshotId,
        path: impl AsRef<Path>,
    ) -> Result<(), CheckpointError> {
        let values = self.fetch_all(snap)?;
        write_atomically(path.as_ref(), &encode_u64(&values, snap))
    }

    /// Restores an array from a checkpoint file: its snapshot reads as the original's
    /// did, older snapshots are [`Error::Compacted`], and its next `snap()` returns the
    /// checkpoint's id plus one. Returns the array and that snapshot id.
    ///
    /// # Errors
    ///
    /// [`CheckpointError`] for a missing, unreadable, truncated, corrupt, foreign or
    /// wrong-version file. Never a panic and never a wrong array.
    pub fn restore_checkpoint(
        path: impl AsRef<Path>,
    ) -> Result<(SnapshotArray<u64>, SnapshotId), CheckpointError> {
        let (values, snap) = decode_u64(&read(path.as_ref())?)?;
        let inner = Inner::restored(values, snap.get(), 0, |v| *v == 0);
        Ok((SnapshotArray::from_parts(inner, None), snap))
    }
}

#[cfg(feature = "serde")]
mod serde_values {
    use super::*;

    /// Encodes `values` (any serde type) as the checkpoint of snapshot `snap`.
    pub fn encode<T: serde::Serialize>(
        values: &[T],
        snap: SnapshotId,
    ) -> Result<Vec<u8>, CheckpointError> {
        let payload = postcard::to_allocvec(values)
            .map_err(|e| CheckpointError::Malformed(format!("cannot encode values: {e}")))?;
        Ok(frame(
            ENCODING_POSTCARD,
            values.len() as u64,
            snap,
            &payload,
        ))
    }

    /// Decodes a checkpoint of serde values.
    pub fn decode<T: serde::de::DeserializeOwned>(
        bytes: &[u8],
    ) -> Result<(Vec<T>, SnapshotId), CheckpointError> {
        let (n, snap, payload) = unframe(bytes, ENCODING_POSTCARD)?;
        let values: Vec<T> = postcard::from_bytes(payload)
            .map_err(|e| CheckpointError::Malformed(format!("cannot decode values: {e}")))?;
        if values.len() as u64 != n {
            return Err(CheckpointError::Malformed(format!(
                "header says {n} nodes, payload holds {}",
                values.len()
            )));
        }
        Ok((values, snap))
    }

    impl<T> SnapshotArray<T>
    where
        T: Clone + Send + Sync + Default + serde::Serialize + serde::de::DeserializeOwned + 'static,
    {
        /// [`write_checkpoint`](SnapshotArray::write_checkpoint) for any serde type
        /// (values encoded with postcard). Needs the `serde` feature.
        ///
        /// # Errors
        ///
        /// As for `write_checkpoint`.
        pub fn write_checkpoint_serde(
            &self,
            snap: SnapshotId,
            path: impl AsRef<Path>,
        ) -> Result<(), CheckpointError> {
            let values = self.fetch_all(snap)?;
            write_atomically(path.as_ref(), &encode(&values, snap)?)
        }

        /// [`restore_checkpoint`](SnapshotArray::restore_checkpoint) for any serde type;
        /// nodes start at `T::default()`. Needs the `serde` feature.
        ///
        /// # Errors
        ///
        /// As for `restore_checkpoint`.
        pub fn restore_checkpoint_serde(
            path: impl AsRef<Path>,
        ) -> Result<(SnapshotArray<T>, SnapshotId), CheckpointError> {
            let (values, snap) = decode::<T>(&read(path.as_ref())?)?;
            let inner = Inner::restored(values, snap.get(), T::default(), |_| false);
            Ok((SnapshotArray::from_parts(inner, None), snap))
        }
    }
}

#[cfg(feature = "serde")]
pub use serde_values::{decode as decode_serde, encode as encode_serde};
