//! The checkpoint directory: what a killed coordinator resumes from.
//!
//! ```text
//! <dir>/snapstate-job.json        which job wrote the directory (checked on resume)
//! <dir>/progress.ckpt             each node's progress at the last durable checkpoint
//! <dir>/outputs/seg-<seq>.bin     the outputs committed at checkpoint <seq>
//! ```
//!
//! Every binary file carries the job identity's digest and a CRC-32C, and every output
//! the fingerprint of the inputs it was built from. At checkpoint `seq` the coordinator
//! first writes (and fsyncs) the segment of the outputs newly committed, then atomically
//! replaces `progress.ckpt`. So every output the progress file says is done is already on
//! disk, whenever the process is killed. On resume, segments newer than the progress file
//! are leftovers of a checkpoint that never landed: they are deleted and their subtasks
//! run again.

mod frame;
mod manifest;
mod progress;
mod segment;

use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::atomic_file::{remove_temp_files, sync_dir, write_atomic};
use crate::error::{io_at, CheckpointDirError};
use crate::identity::{Digest, Fingerprint, JobIdentity};
use crate::plan::Plan;

pub(crate) use segment::EntryRef;

/// The manifest's file name.
pub(crate) const MANIFEST: &str = "snapstate-job.json";
const PROGRESS: &str = "progress.ckpt";
const OUTPUTS: &str = "outputs";

/// An opened checkpoint directory.
#[derive(Debug)]
pub(crate) struct CheckpointStore {
    dir: PathBuf,
    plan: Plan,
    job: Digest,
    /// The number the next durable checkpoint gets.
    next_seq: u64,
}

/// What a resumed run starts from.
#[derive(Debug)]
pub(crate) struct Resumed<O> {
    /// Committed progress per node.
    pub(crate) nodes: Vec<u64>,
    /// The durable checkpoint it was read from.
    pub(crate) seq: u64,
    /// `(subtask, fingerprint, output)` for every subtask the checkpoint covers.
    pub(crate) outputs: Vec<(usize, Fingerprint, O)>,
}

impl CheckpointStore {
    /// Opens `dir` for the job `job` with plan `plan`, creating it (and its manifest) if
    /// it is new or empty.
    pub(crate) fn open(
        dir: &Path,
        job: &JobIdentity,
        plan: Plan,
    ) -> Result<Self, CheckpointDirError> {
        let expected = manifest::Manifest::new(job, plan);
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
        let outputs = dir.join(OUTPUTS);
        fs::create_dir_all(&outputs).map_err(io_at(&outputs))?;
        remove_temp_files(dir).map_err(io_at(dir))?;
        remove_temp_files(&outputs).map_err(io_at(&outputs))?;
        Ok(CheckpointStore {
            dir: dir.to_owned(),
            plan,
            job: job.digest(),
            next_seq: 0,
        })
    }

    fn segment_path(&self, seq: u64) -> PathBuf {
        self.dir.join(OUTPUTS).join(segment::file_name(seq))
    }

    /// Segment files present, as `(checkpoint, path)`.
    fn segments(&self) -> Result<Vec<(u64, PathBuf)>, CheckpointDirError> {
        let outputs = self.dir.join(OUTPUTS);
        let mut found = Vec::new();
        for entry in fs::read_dir(&outputs).map_err(io_at(&outputs))? {
            let entry = entry.map_err(io_at(&outputs))?;
            let name = entry.file_name();
            if let Some(seq) = name.to_str().and_then(segment::parse_name) {
                found.push((seq, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    fn not_this_job(&self, path: &Path) -> CheckpointDirError {
        CheckpointDirError::Corrupt {
            path: path.to_owned(),
            reason: "written by another job (copied from another checkpoint directory?)".to_owned(),
        }
    }

    /// The state to resume from, or `None` if no checkpoint has landed yet. Deletes
    /// segments that no landed checkpoint covers.
    pub(crate) fn resume<O: DeserializeOwned>(
        &mut self,
    ) -> Result<Option<Resumed<O>>, CheckpointDirError> {
        let path = self.dir.join(PROGRESS);
        let landed = match fs::read(&path) {
            Ok(bytes) => {
                let p = progress::decode(&bytes).map_err(|e| match e {
                    progress::ProgressError::Frame(reason) => CheckpointDirError::Corrupt {
                        path: path.clone(),
                        reason,
                    },
                    progress::ProgressError::Core(source) => CheckpointDirError::Progress {
                        path: path.clone(),
                        source,
                    },
                })?;
                if p.job != self.job {
                    return Err(self.not_this_job(&path));
                }
                Some(p)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_at(&path)(e)),
        };
        let covered_up_to = landed.as_ref().map(|p| p.seq);
        let mut outputs = Vec::new();
        let mut removed = false;
        for (seq, seg_path) in self.segments()? {
            if covered_up_to.is_none_or(|s| seq > s) {
                fs::remove_file(&seg_path).map_err(io_at(&seg_path))?;
                removed = true;
                continue;
            }
            let bytes = fs::read(&seg_path).map_err(io_at(&seg_path))?;
            let corrupt = |reason: String| CheckpointDirError::Corrupt {
                path: seg_path.clone(),
                reason,
            };
            let seg: segment::Segment<O> = segment::decode(&bytes).map_err(corrupt)?;
            if seg.job != self.job {
                return Err(self.not_this_job(&seg_path));
            }
            if seg.seq != seq {
                return Err(corrupt(format!("holds checkpoint {}, not {seq}", seg.seq)));
            }
            for e in seg.entries {
                let subtask = usize::try_from(e.subtask).unwrap_or(usize::MAX);
                outputs.push((subtask, e.fingerprint, e.output));
            }
        }
        if removed {
            let dir = self.dir.join(OUTPUTS);
            sync_dir(&dir).map_err(io_at(dir))?;
        }
        let Some(landed) = landed else {
            return Ok(None);
        };
        self.next_seq = landed.seq + 1;
        self.check_covered(&landed.nodes, landed.seq, &path, &outputs)?;
        Ok(Some(Resumed {
            nodes: landed.nodes,
            seq: landed.seq,
            outputs,
        }))
    }

    /// Every subtask the checkpoint covers has exactly one output, and nothing else does.
    fn check_covered<O>(
        &self,
        nodes: &[u64],
        seq: u64,
        path: &Path,
        outputs: &[(usize, Fingerprint, O)],
    ) -> Result<(), CheckpointDirError> {
        let corrupt = |reason: String| CheckpointDirError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        if nodes.len() != self.plan.nodes {
            return Err(corrupt(format!(
                "holds {} nodes, the job has {} workers",
                nodes.len(),
                self.plan.nodes
            )));
        }
        let mut covered = vec![false; self.plan.subtasks];
        for (node, &done) in nodes.iter().enumerate() {
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
        for &(subtask, _, _) in outputs {
            if subtask >= self.plan.subtasks || !covered[subtask] || seen[subtask] {
                return Err(corrupt(format!(
                    "output of subtask {subtask} is not covered exactly once by checkpoint {seq}"
                )));
            }
            seen[subtask] = true;
        }
        if let Some(missing) = (0..self.plan.subtasks).find(|&k| covered[k] && !seen[k]) {
            return Err(corrupt(format!(
                "checkpoint {seq} covers subtask {missing} but its output is missing"
            )));
        }
        Ok(())
    }

    /// Makes a checkpoint durable: first the outputs it newly commits, then the progress
    /// file. Returns its number.
    pub(crate) fn persist<O: Serialize>(
        &mut self,
        nodes: &[u64],
        new_outputs: &[EntryRef<'_, O>],
    ) -> Result<u64, CheckpointDirError> {
        let seq = self.next_seq;
        if !new_outputs.is_empty() {
            let path = self.segment_path(seq);
            let bytes = segment::encode(self.job, seq, new_outputs).map_err(|reason| {
                CheckpointDirError::Corrupt {
                    path: path.clone(),
                    reason,
                }
            })?;
            write_atomic(&path, &bytes).map_err(io_at(&path))?;
        }
        let path = self.dir.join(PROGRESS);
        let bytes = progress::encode(self.job, seq, nodes).map_err(|reason| {
            CheckpointDirError::Corrupt {
                path: path.clone(),
                reason,
            }
        })?;
        write_atomic(&path, &bytes).map_err(io_at(&path))?;
        self.next_seq = seq + 1;
        Ok(seq)
    }
}
