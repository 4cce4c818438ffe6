//! [`Store`]: the job's durable files in `--store DIR/<job>/`, readable by every
//! coordinator (a local directory in tests, a shared mount in production).
//!
//! ```text
//! DIR/<job>/job.json                         which job the directory belongs to
//! DIR/<job>/seg-<epoch>-<snapshot>.bin       outputs newly committed at a snapshot
//! DIR/<job>/progress-<epoch>-<snapshot>.ckpt the progress array at that snapshot
//! ```
//!
//! A leader writes a snapshot's files (each atomically: temp file, fsync, rename, fsync
//! of the directory) and only then points to them from etcd. Names carry the writer's
//! leader epoch, so a deposed leader's late files never collide with its successor's;
//! files no pointer lists are garbage, removed by the next leader.
//!
//! # Segment format (version 1, little-endian)
//!
//! | field | size |
//! |---|---|
//! | magic `b"SNAPSSEG"` | 8 |
//! | version `1` | 4 |
//! | entry count `n` | 8 |
//! | `n` × (subtask: 8, length `l`: 8, output: `l`) | |
//! | CRC-32C of every byte before | 4 |

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use snapstate::{SnapshotArray, SnapshotId};

use crate::error::ClusterError;
use crate::plan::Plan;

const MAGIC: &[u8; 8] = b"SNAPSSEG";
const SEGMENT_VERSION: u32 = 1;
const MANIFEST: &str = "job.json";

/// Whether `name` is a file name the store writes (so a pointer cannot name a path
/// outside it).
pub fn is_store_file_name(name: &str) -> bool {
    let parse = |rest: &str, ext: &str| {
        rest.strip_suffix(ext).is_some_and(|mid| {
            let parts: Vec<&str> = mid.split('-').collect();
            parts.len() == 2
                && parts
                    .iter()
                    .all(|p| p.len() == 16 && p.bytes().all(|b| b.is_ascii_digit()))
        })
    };
    name.strip_prefix("seg-").is_some_and(|r| parse(r, ".bin"))
        || name
            .strip_prefix("progress-")
            .is_some_and(|r| parse(r, ".ckpt"))
}

/// What `job.json` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    job: String,
    kind: String,
    identity: String,
    plan: Plan,
}

/// A job's directory in the store.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    plan: Plan,
    max_output: u64,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    fs::File::open(dir)?.sync_all()
}

impl Store {
    /// Opens (creating it if new) the directory of job `job` under `root`, checking that
    /// it belongs to this job.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Store`] if it cannot be made, or belongs to another job.
    pub fn open(
        root: &Path,
        job: &str,
        kind: &str,
        identity: &str,
        plan: Plan,
        max_output: u64,
    ) -> Result<Self, ClusterError> {
        let dir = root.join(job);
        fs::create_dir_all(&dir).map_err(|e| ClusterError::store(&dir, e))?;
        let want = Manifest {
            format: "snapstate-cluster-store-1".into(),
            job: job.into(),
            kind: kind.into(),
            identity: identity.into(),
            plan,
        };
        let path = dir.join(MANIFEST);
        match fs::read(&path) {
            Ok(bytes) => {
                let found: Manifest = serde_json::from_slice(&bytes)
                    .map_err(|e| ClusterError::store(&path, format!("unreadable: {e}")))?;
                if found != want {
                    return Err(ClusterError::store(
                        &dir,
                        format!(
                            "holds another job's files ({} {} over {} nodes / {} subtasks, \
                             this is {} {} over {} / {}); give this job another --store or \
                             --job, or delete the directory if that job is gone",
                            found.kind,
                            found.identity,
                            found.plan.nodes,
                            found.plan.subtasks,
                            want.kind,
                            want.identity,
                            plan.nodes,
                            plan.subtasks
                        ),
                    ));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let json = serde_json::to_vec_pretty(&want).unwrap_or_default();
                write_atomic(&path, &json).map_err(|e| ClusterError::store(&path, e))?;
            }
            Err(e) => return Err(ClusterError::store(&path, e)),
        }
        Ok(Store {
            dir,
            plan,
            max_output,
        })
    }

    /// The job's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn name(kind: &str, epoch: i64, snap: SnapshotId, ext: &str) -> String {
        format!("{kind}-{:016}-{:016}.{ext}", epoch.max(0), snap.get())
    }

    /// Writes the outputs a snapshot newly covers; returns the file's name.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Store`] if the file system refuses.
    pub fn write_segment<'a>(
        &self,
        epoch: i64,
        snap: SnapshotId,
        outputs: impl IntoIterator<Item = (usize, &'a [u8])>,
    ) -> Result<String, ClusterError> {
        let name = Self::name("seg", epoch, snap, "bin");
        let mut body = Vec::new();
        let mut n = 0u64;
        for (subtask, out) in outputs {
            body.extend_from_slice(&(subtask as u64).to_le_bytes());
            body.extend_from_slice(&(out.len() as u64).to_le_bytes());
            body.extend_from_slice(out);
            n += 1;
        }
        let mut bytes = Vec::with_capacity(body.len() + 24);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&SEGMENT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&n.to_le_bytes());
        bytes.extend_from_slice(&body);
        let crc = crc32c::crc32c(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let path = self.dir.join(&name);
        write_atomic(&path, &bytes).map_err(|e| ClusterError::store(&path, e))?;
        Ok(name)
    }

    /// Reads a segment: `(subtask, output)` pairs, checked (magic, version, checksum,
    /// lengths, subtask range, output size).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Store`] for a missing, truncated or corrupt file.
    pub fn read_segment(&self, name: &str) -> Result<Vec<(usize, Vec<u8>)>, ClusterError> {
        let path = self.dir.join(name);
        if !is_store_file_name(name) {
            return Err(ClusterError::store(&path, "not a segment name"));
        }
        let bytes = fs::read(&path).map_err(|e| ClusterError::store(&path, e))?;
        decode_segment(&bytes, self.plan.subtasks, self.max_output)
            .map_err(|why| ClusterError::store(&path, why))
    }

    /// Writes the progress array at `snap` as a core checkpoint; returns its name.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Store`] if the file system refuses.
    pub fn write_progress(
        &self,
        epoch: i64,
        array: &SnapshotArray<u64>,
        snap: SnapshotId,
    ) -> Result<String, ClusterError> {
        let name = Self::name("progress", epoch, snap, "ckpt");
        let path = self.dir.join(&name);
        array
            .write_checkpoint(snap, &path)
            .map_err(|e| ClusterError::store(&path, e))?;
        Ok(name)
    }

    /// Restores the progress array from a checkpoint written by
    /// [`write_progress`](Self::write_progress).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Store`] for a missing or corrupt file.
    pub fn read_progress(
        &self,
        name: &str,
    ) -> Result<(SnapshotArray<u64>, SnapshotId), ClusterError> {
        let path = self.dir.join(name);
        if !is_store_file_name(name) {
            return Err(ClusterError::store(&path, "not a progress file name"));
        }
        SnapshotArray::restore_checkpoint(&path).map_err(|e| ClusterError::store(&path, e))
    }

    /// Deletes the store files not in `keep` (a deposed leader's, a failed commit's,
    /// superseded progress files). Returns how many were removed.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Store`] if the directory cannot be listed.
    pub fn remove_unlisted(&self, keep: &[&str]) -> Result<usize, ClusterError> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(|e| ClusterError::store(&self.dir, e))? {
            let entry = entry.map_err(|e| ClusterError::store(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale_tmp = name.starts_with(".tmp-");
            if (is_store_file_name(&name) && !keep.contains(&name.as_str())) || stale_tmp {
                // A file someone else removed first is fine.
                if fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

/// Decodes a segment's bytes; every bound checked, never a panic.
///
/// # Errors
///
/// A message saying what is wrong.
pub fn decode_segment(
    bytes: &[u8],
    subtasks: usize,
    max_output: u64,
) -> Result<Vec<(usize, Vec<u8>)>, String> {
    if bytes.len() < 24 || &bytes[..8] != MAGIC {
        return Err("not a segment file (bad magic or too short)".into());
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(body) != want {
        return Err("checksum mismatch: the file is corrupt".into());
    }
    let u64_at = |at: usize| -> Result<u64, String> {
        body.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .ok_or_else(|| "truncated".to_string())
    };
    let version = u32::from_le_bytes(body[8..12].try_into().unwrap_or([0; 4]));
    if version != SEGMENT_VERSION {
        return Err(format!(
            "segment version {version}, this build reads {SEGMENT_VERSION}"
        ));
    }
    let n = u64_at(12)?;
    if n > subtasks as u64 {
        return Err(format!("{n} entries for a job of {subtasks} subtasks"));
    }
    let mut at = 20;
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let subtask = u64_at(at)?;
        let len = u64_at(at + 8)?;
        at += 16;
        if subtask >= subtasks as u64 {
            return Err(format!("subtask {subtask} out of range 0..{subtasks}"));
        }
        if len > max_output {
            return Err(format!(
                "an output of {len} bytes, over the {max_output} limit"
            ));
        }
        let end = at
            .checked_add(len as usize)
            .filter(|&e| e <= body.len())
            .ok_or("truncated output")?;
        out.push((subtask as usize, body[at..end].to_vec()));
        at = end;
    }
    if at != body.len() {
        return Err("trailing bytes after the last entry".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> Store {
        Store::open(dir, "j", "k", "id", Plan::new(2, 10).unwrap(), 100).unwrap()
    }

    #[test]
    fn segments_round_trip_and_every_corruption_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let outs: Vec<(usize, Vec<u8>)> =
            vec![(3, b"abc".to_vec()), (5, vec![]), (9, vec![7; 100])];
        let name = s
            .write_segment(
                4,
                SnapshotId::from(2),
                outs.iter().map(|(k, o)| (*k, o.as_slice())),
            )
            .unwrap();
        assert!(is_store_file_name(&name));
        assert_eq!(s.read_segment(&name).unwrap(), outs);
        let bytes = fs::read(s.dir().join(&name)).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                decode_segment(&bytes[..cut], 10, 100).is_err(),
                "cut at {cut}"
            );
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode_segment(&b, 10, 100).is_err(), "flip at {i}");
        }
        // Bounds are checked even under a valid checksum.
        assert!(decode_segment(&bytes, 5, 100).is_err());
        assert!(decode_segment(&bytes, 10, 99).is_err());
    }

    #[test]
    fn a_store_of_another_job_is_refused_and_garbage_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let e = Store::open(
            dir.path(),
            "j",
            "k",
            "other",
            Plan::new(2, 10).unwrap(),
            100,
        )
        .unwrap_err();
        assert!(e.to_string().contains("another job"), "{e}");
        let keep = s.write_segment(1, SnapshotId::from(1), []).unwrap();
        let drop = s.write_segment(1, SnapshotId::from(2), []).unwrap();
        assert_eq!(s.remove_unlisted(&[&keep]).unwrap(), 1);
        assert!(s.read_segment(&keep).is_ok() && s.read_segment(&drop).is_err());
        assert!(s.read_segment("../job.json").is_err());
        for bad in [
            "seg-1-2.bin",
            "seg-0000000000000001-000000000000000x.bin",
            "../x",
            "job.json",
        ] {
            assert!(!is_store_file_name(bad), "{bad}");
        }
    }
}
