//! The checkpoint directory: what a killed coordinator resumes from.
//!
//! ```text
//! <dir>/snapstate.lock            held (flock) by the run using the directory: pid, host, start
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

mod dir;
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

pub use dir::CheckpointDir;
pub(crate) use segment::EntryRef;

/// The manifest's file name.
pub(crate) const MANIFEST: &str = "snapstate-job.json";
const PROGRESS: &str = "progress.ckpt";
const OUTPUTS: &str = "outputs";

/// An opened checkpoint directory.
#[derive(Debug)]
pub(crate) struct CheckpointStore {
    /// Holds the directory's lock while the store lives.
    _locked: CheckpointDir,
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
    /// `(subtask, fingerprint, output)` for every subtask the checkpoint covers, once
    /// each, in subtask order.
    pub(crate) outputs: Vec<(usize, Fingerprint, O)>,
}

impl CheckpointStore {
    /// Opens `dir` for the job `job` with plan `plan`, creating it (and its manifest) if
    /// it is new or empty.
    pub(crate) fn open(
        locked: CheckpointDir,
        job: &JobIdentity,
        plan: Plan,
    ) -> Result<Self, CheckpointDirError> {
        let expected = manifest::Manifest::new(job, plan);
        let dir = locked.path().to_owned();
        let dir = dir.as_path();
        let manifest_path = dir.join(MANIFEST);
        match fs::read(&manifest_path) {
            Ok(bytes) => {
                let found: manifest::Manifest =
                    serde_json::from_slice(&bytes).map_err(|e| CheckpointDirError::Corrupt {
                        dir: dir.to_owned(),
                        path: manifest_path.clone(),
                        reason: format!("unreadable manifest: {e}"),
                    })?;
                if found.format != manifest::FORMAT || found.version != manifest::VERSION {
                    return Err(CheckpointDirError::Corrupt {
                        dir: dir.to_owned(),
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
                        differences: expected.differences(&found),
                        found: found.describe(),
                        expected: expected.describe(),
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Only an empty directory becomes a checkpoint directory: never write
                // into one that holds someone else's files.
                if !dir::is_empty_but_lock(dir)? {
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
            _locked: locked,
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
        CheckpointDirError::ForeignFile {
            dir: self.dir.clone(),
            path: path.to_owned(),
        }
    }

    fn corrupt(&self, path: &Path, reason: String) -> CheckpointDirError {
        CheckpointDirError::Corrupt {
            dir: self.dir.clone(),
            path: path.to_owned(),
            reason,
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
                    progress::ProgressError::Frame(reason) => self.corrupt(&path, reason),
                    progress::ProgressError::Core(source) => CheckpointDirError::Progress {
                        dir: self.dir.clone(),
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
            let corrupt = |reason: String| self.corrupt(&seg_path, reason);
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
        let outputs = self.select_covered(&landed.nodes, landed.seq, &path, outputs)?;
        Ok(Some(Resumed {
            nodes: landed.nodes,
            seq: landed.seq,
            outputs,
        }))
    }

    /// Keeps, for every subtask the checkpoint covers, its output from the newest segment
    /// (a subtask redone after a resume that rolled its node back is in two segments);
    /// drops outputs the checkpoint does not cover (left by such a rollback). A covered
    /// subtask without an output is an error.
    fn select_covered<O>(
        &self,
        nodes: &[u64],
        seq: u64,
        path: &Path,
        outputs: Vec<(usize, Fingerprint, O)>,
    ) -> Result<Vec<(usize, Fingerprint, O)>, CheckpointDirError> {
        let corrupt = |reason: String| self.corrupt(path, reason);
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
        // `outputs` is in segment order, so a later entry is newer.
        let mut chosen: Vec<Option<(Fingerprint, O)>> =
            (0..self.plan.subtasks).map(|_| None).collect();
        for (subtask, fingerprint, output) in outputs {
            if subtask < self.plan.subtasks && covered[subtask] {
                chosen[subtask] = Some((fingerprint, output));
            }
        }
        if let Some(missing) = (0..self.plan.subtasks).find(|&k| covered[k] && chosen[k].is_none())
        {
            return Err(corrupt(format!(
                "checkpoint {seq} covers subtask {missing} but its output is missing"
            )));
        }
        Ok(chosen
            .into_iter()
            .enumerate()
            .filter_map(|(k, c)| c.map(|(f, o)| (k, f, o)))
            .collect())
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
            let bytes = segment::encode(self.job, seq, new_outputs)
                .map_err(|reason| self.corrupt(&path, reason))?;
            write_atomic(&path, &bytes).map_err(io_at(&path))?;
        }
        let path = self.dir.join(PROGRESS);
        let bytes =
            progress::encode(self.job, seq, nodes).map_err(|reason| self.corrupt(&path, reason))?;
        write_atomic(&path, &bytes).map_err(io_at(&path))?;
        self.next_seq = seq + 1;
        Ok(seq)
    }
}
