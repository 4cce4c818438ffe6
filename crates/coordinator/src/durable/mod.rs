//! The checkpoint directory: what a killed coordinator resumes from.
//!
//! ```text
//! <dir>/snapstate-job.json        which job wrote the directory (checked on resume)
//! <dir>/progress.ckpt             the progress array at the last durable snapshot
//! <dir>/outputs/seg-<snap>.bin    the outputs committed at each snapshot
//! ```
//!
//! At a snapshot `s` the coordinator first writes (and fsyncs) the segment of the outputs
//! `s` newly covers, then atomically replaces `progress.ckpt` with snapshot `s`. So every
//! output that the progress file says is done is already on disk, whenever the process is
//! killed. On resume, segments newer than the progress file are leftovers of a snapshot
//! whose checkpoint never landed: they are deleted and their subtasks run again.

mod manifest;
mod progress;
mod segment;

use std::fs;
use std::path::{Path, PathBuf};

use snapstate::{SnapshotArray, SnapshotId};

use crate::error::{io_at, CheckpointDirError};
use crate::fsutil::{sync_dir, write_atomic};
use crate::job::Codec;
use crate::plan::Plan;

pub(crate) use progress::fetch_all;

/// The manifest's file name.
pub(crate) const MANIFEST: &str = "snapstate-job.json";
const PROGRESS: &str = "progress.ckpt";
const OUTPUTS: &str = "outputs";

/// An opened checkpoint directory.
#[derive(Debug)]
pub(crate) struct CheckpointStore {
    dir: PathBuf,
    plan: Plan,
}

/// What a resumed run starts from.
#[derive(Debug)]
pub(crate) struct Resumed<O> {
    pub(crate) array: SnapshotArray<u64>,
    pub(crate) snapshot: SnapshotId,
    /// `(subtask, output)` for every subtask the snapshot covers.
    pub(crate) outputs: Vec<(usize, O)>,
}

/// Deletes temporary files a killed writer left behind (see `fsutil::write_atomic`).
fn remove_temp_files(dir: &Path) -> Result<(), CheckpointDirError> {
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        if entry.file_name().to_string_lossy().contains(".tmp-") {
            fs::remove_file(entry.path()).map_err(io_at(entry.path()))?;
        }
    }
    Ok(())
}

impl CheckpointStore {
    /// Opens `dir` for job `job` with plan `plan`, creating it (and its manifest) if it is
    /// new or empty.
    pub(crate) fn open(dir: &Path, job: &str, plan: Plan) -> Result<Self, CheckpointDirError> {
        let expected = manifest::Manifest::new(job, plan.nodes, plan.subtasks);
        if dir.exists() && !dir.is_dir() {
            return Err(CheckpointDirError::Corrupt {
                path: dir.to_owned(),
                reason: "exists and is not a directory".to_owned(),
            });
        }
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let manifest_path = dir.join(MANIFEST);
        match fs::read(&manifest_path) {
            Ok(bytes) => {
                let found: manifest::Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| CheckpointDirError::Corrupt {
                        path: manifest_path.clone(),
                        reason: format!("unreadable manifest: {e}"),
                    })?;
                if found.format != manifest::FORMAT || found.version != manifest::VERSION {
                    return Err(CheckpointDirError::Corrupt {
                        path: manifest_path,
                        reason: format!(
                            "format {:?} version {} is not {:?} version {}",
                            found.format,
                            found.version,
                            manifest::FORMAT,
                            manifest::VERSION
                        ),
                    });
                }
                if found != expected {
                    return Err(CheckpointDirError::DifferentJob {
                        dir: dir.to_owned(),
                        found: found.describe(),
                        expected: expected.describe(),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Only an empty directory becomes a checkpoint directory: never write
                // into one that holds someone else's files.
                if fs::read_dir(dir).map_err(io_at(dir))?.next().is_some() {
                    return Err(CheckpointDirError::Foreign {
                        dir: dir.to_owned(),
                    });
                }
                let json = serde_json::to_vec_pretty(&expected).unwrap_or_default();
                write_atomic(&manifest_path, &json).map_err(io_at(&manifest_path))?;
            }
            Err(e) => return Err(io_at(&manifest_path)(e)),
        }
        fs::create_dir_all(dir.join(OUTPUTS)).map_err(io_at(dir.join(OUTPUTS)))?;
        remove_temp_files(dir)?;
        remove_temp_files(&dir.join(OUTPUTS))?;
        Ok(CheckpointStore {
            dir: dir.to_owned(),
            plan,
        })
    }

    fn segment_path(&self, snap: u64) -> PathBuf {
        self.dir.join(OUTPUTS).join(segment::file_name(snap))
    }

    /// Segment files present, as `(snapshot, path)`.
    fn segments(&self) -> Result<Vec<(u64, PathBuf)>, CheckpointDirError> {
        let outputs = self.dir.join(OUTPUTS);
        let mut found = Vec::new();
        for entry in fs::read_dir(&outputs).map_err(io_at(&outputs))? {
            let entry = entry.map_err(io_at(&outputs))?;
            let name = entry.file_name();
            if let Some(snap) = name.to_str().and_then(segment::parse_name) {
                found.push((snap, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    /// The state to resume from, or `None` if no checkpoint has landed yet. Deletes
    /// segments that no landed checkpoint covers.
    pub(crate) fn resume<O: Codec>(&self) -> Result<Option<Resumed<O>>, CheckpointDirError> {
        let path = self.dir.join(PROGRESS);
        let landed = if path.exists() {
            let (array, snapshot) =
                progress::load(&path).map_err(|source| CheckpointDirError::Progress {
                    path: path.clone(),
                    source,
                })?;
            Some((array, snapshot))
        } else {
            None
        };
        let covered_up_to = landed.as_ref().map(|(_, s)| s.get());
        let mut outputs = Vec::new();
        let mut removed = false;
        for (snap, seg_path) in self.segments()? {
            if covered_up_to.is_none_or(|s| snap > s) {
                fs::remove_file(&seg_path).map_err(io_at(&seg_path))?;
                removed = true;
                continue;
            }
            let bytes = fs::read(&seg_path).map_err(io_at(&seg_path))?;
            let corrupt = |reason: String| CheckpointDirError::Corrupt {
                path: seg_path.clone(),
                reason,
            };
            for (subtask, enc) in segment::decode(&bytes).map_err(|e| corrupt(e.to_string()))? {
                let output = O::decode(enc)
                    .map_err(|e| corrupt(format!("output of subtask {subtask}: {e}")))?;
                outputs.push((subtask, output));
            }
        }
        if removed {
            sync_dir(&self.dir.join(OUTPUTS)).map_err(io_at(self.dir.join(OUTPUTS)))?;
        }
        let Some((array, snapshot)) = landed else {
            return Ok(None);
        };
        self.check_covered(&array, snapshot, &path, &outputs)?;
        Ok(Some(Resumed {
            array,
            snapshot,
            outputs,
        }))
    }

    /// Every subtask the snapshot covers has exactly one output, and nothing else does.
    fn check_covered<O>(
        &self,
        array: &SnapshotArray<u64>,
        snapshot: SnapshotId,
        path: &Path,
        outputs: &[(usize, O)],
    ) -> Result<(), CheckpointDirError> {
        let corrupt = |reason: String| CheckpointDirError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        if array.len() != self.plan.nodes {
            return Err(corrupt(format!(
                "holds {} nodes, the job has {} workers",
                array.len(),
                self.plan.nodes
            )));
        }
        let progress = fetch_all(array, snapshot).map_err(|e| corrupt(e.to_string()))?;
        let mut covered = vec![false; self.plan.subtasks];
        for (node, &done) in progress.iter().enumerate() {
            let len = self.plan.queue_len(node);
            if done > len as u64 {
                return Err(corrupt(format!(
                    "node {node} has progress {done}, past its {len} subtasks"
                )));
            }
            for pos in 0..done as usize {
                covered[self.plan.subtask(node, pos)] = true;
            }
        }
        let mut seen = vec![false; self.plan.subtasks];
        for &(subtask, _) in outputs {
            if subtask >= self.plan.subtasks || !covered[subtask] || seen[subtask] {
                return Err(corrupt(format!(
                    "output of subtask {subtask} is not covered exactly once by snapshot {snapshot}"
                )));
            }
            seen[subtask] = true;
        }
        if let Some(missing) = (0..self.plan.subtasks).find(|&k| covered[k] && !seen[k]) {
            return Err(corrupt(format!(
                "snapshot {snapshot} covers subtask {missing} but its output is missing"
            )));
        }
        Ok(())
    }

    /// Makes snapshot `snap` durable: first the outputs it newly commits, then the
    /// progress file.
    pub(crate) fn persist(
        &self,
        array: &SnapshotArray<u64>,
        snap: SnapshotId,
        new_outputs: &[(usize, Vec<u8>)],
    ) -> Result<(), CheckpointDirError> {
        if !new_outputs.is_empty() {
            let path = self.segment_path(snap.get());
            write_atomic(&path, &segment::encode(new_outputs)).map_err(io_at(&path))?;
        }
        let path = self.dir.join(PROGRESS);
        progress::save(array, snap, &path)
            .map_err(|source| CheckpointDirError::Progress { path, source })
    }
}
