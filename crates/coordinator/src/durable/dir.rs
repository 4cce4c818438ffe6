//! An opened, locked checkpoint directory.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::error::{io_at, CheckpointDirError};

/// The lock file's name inside a checkpoint directory.
pub(crate) const LOCK: &str = "snapstate.lock";

/// A checkpoint directory, opened and exclusively locked for as long as any clone of
/// this value lives.
///
/// Opening it checks what can be checked before any work starts: the path is a directory
/// (or is created), it is empty or a snapstate checkpoint directory, and no other process
/// holds it. Pass it to [`CoordinatorConfig::checkpoint`](crate::CoordinatorConfig::checkpoint)
/// and keep a clone while the job's results are being written, so the directory stays
/// locked for the whole run.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::{CheckpointDir, CheckpointDirError};
///
/// let tmp = tempfile::tempdir()?;
/// let dir = CheckpointDir::open(tmp.path().join("ckpt"))?;
/// // A second opener (here the same process; usually another one) is refused at once.
/// let again = CheckpointDir::open(dir.path()).unwrap_err();
/// assert!(matches!(again, CheckpointDirError::Locked { .. }), "{again}");
/// drop(dir);
/// assert!(CheckpointDir::open(tmp.path().join("ckpt")).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct CheckpointDir(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// Holds the lock; closing it releases it.
    _lock: File,
}

/// Who holds a checkpoint directory, as written into its lock file.
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    host: String,
    started: String,
}

impl Holder {
    fn me() -> Self {
        Holder {
            pid: std::process::id(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        }
    }
}

impl CheckpointDir {
    /// Opens (creating it if needed) and locks the checkpoint directory `path`.
    ///
    /// # Errors
    ///
    /// - [`CheckpointDirError::NotADirectory`]: `path` is a file.
    /// - [`CheckpointDirError::Foreign`]: it holds files but no snapstate manifest (nothing
    ///   is written into it).
    /// - [`CheckpointDirError::Locked`]: another run holds it; the error names the
    ///   holder's pid, host and start time.
    /// - [`CheckpointDirError::Io`]: it cannot be created, read or locked.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CheckpointDirError> {
        let dir = path.as_ref();
        if dir.exists() && !dir.is_dir() {
            return Err(CheckpointDirError::NotADirectory {
                path: dir.to_owned(),
            });
        }
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        if !dir.join(super::MANIFEST).exists() && !is_empty_but_lock(dir)? {
            return Err(CheckpointDirError::Foreign {
                dir: dir.to_owned(),
            });
        }
        let lock_path = dir.join(LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                // What the holder wrote; it may not have written it yet.
                let _ = file.read_to_string(&mut text);
                let holder = match serde_json::from_str::<Holder>(&text) {
                    Ok(h) => format!("pid {} on {}, started {}", h.pid, h.host, h.started),
                    Err(_) => "a process that is still starting".to_owned(),
                };
                return Err(CheckpointDirError::Locked {
                    dir: dir.to_owned(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_at(&lock_path)(e)),
        }
        let json = serde_json::to_vec(&Holder::me()).unwrap_or_default();
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(&json))
            .map_err(io_at(&lock_path))?;
        Ok(CheckpointDir(Arc::new(Inner {
            path: dir.to_owned(),
            _lock: file,
        })))
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0.path
    }
}

/// Whether `dir` holds nothing but (maybe) a lock file.
pub(crate) fn is_empty_but_lock(dir: &Path) -> Result<bool, CheckpointDirError> {
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        if entry.map_err(io_at(dir))?.file_name() != LOCK {
            return Ok(false);
        }
    }
    Ok(true)
}
