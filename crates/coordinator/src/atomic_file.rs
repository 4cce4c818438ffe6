//! Atomic file replacement, the one implementation every file the coordinator and the
//! search workload write goes through.
//!
//! A file is written under a temporary name in its own directory (`tempfile`'s
//! `NamedTempFile`), fsynced, renamed over the target (`persist`), and the directory is
//! fsynced: a reader sees the old file or the new one, never a torn one, and a crash at any
//! point leaves at most a temporary file behind. Temporary names are
//! `.<name>.tmp-<pid>-<random>`; [`remove_temp_files`] deletes the ones whose writing
//! process is gone.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The marker between a temporary file's target name and its writer's pid.
const TEMP_MARK: &str = ".tmp-";

/// The directory `path` lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Atomically replaces `path` with `bytes` (see the module docs).
///
/// # Errors
///
/// The I/O error of the first step that failed; the previous file at `path`, if any, is
/// untouched and no temporary file is left behind.
///
/// # Examples
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("notes.txt");
/// snapstate_coordinator::write_atomic(&path, b"one")?;
/// snapstate_coordinator::write_atomic(&path, b"two")?;
/// assert_eq!(std::fs::read(&path)?, b"two");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file path (no file name)",
        )
    })?;
    let prefix = format!(
        ".{}{TEMP_MARK}{}-",
        name.to_string_lossy(),
        std::process::id()
    );
    let mut tmp = tempfile::Builder::new().prefix(&prefix).tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // On error the temporary file is deleted when `PersistError` drops.
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Makes the directory's entries (creations, renames, removals) durable.
///
/// # Errors
///
/// The I/O error of opening or syncing it.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)?.sync_all()
}

/// The writer's pid in a temporary file name made by [`write_atomic`], if it is one.
fn temp_writer(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let at = rest.rfind(TEMP_MARK)?;
    let (pid, _random) = rest[at + TEMP_MARK.len()..].split_once('-')?;
    pid.parse().ok()
}

/// Whether process `pid` is running. Where that cannot be told (no `/proc`), every
/// process is taken to be running, so nothing of a live writer is ever deleted.
fn is_running(pid: u32) -> bool {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    pid == std::process::id() || proc.join(pid.to_string()).exists()
}

/// Deletes the temporary files in `dir` (not below it) that [`write_atomic`] left when
/// its process was killed mid-write. Files of a process still running are left alone.
/// Returns the paths removed.
///
/// # Errors
///
/// The I/O error of listing `dir` or removing a file.
pub fn remove_temp_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_writer) else {
            continue;
        };
        if is_running(pid) || !entry.file_type()?.is_file() {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => removed.push(entry.path()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if !removed.is_empty() {
        sync_dir(dir)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write_atomic(&dir.path().join("no/such/dir/f"), b"x").is_err());
    }

    #[test]
    fn leftovers_of_dead_writers_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // No process has pid u32::MAX - 1 (Linux caps pids far lower).
        let dead = dir
            .path()
            .join(format!(".f.bin{TEMP_MARK}{}-abc123", u32::MAX - 1));
        let live = dir
            .path()
            .join(format!(".f.bin{TEMP_MARK}{}-abc123", std::process::id()));
        let other = dir.path().join("f.bin.tmp-notes");
        for p in [&dead, &live, &other] {
            fs::write(p, b"x").unwrap();
        }
        let removed = remove_temp_files(dir.path()).unwrap();
        let proc_visible = Path::new("/proc/self").exists();
        assert_eq!(removed.is_empty(), !proc_visible);
        assert_eq!(dead.exists(), !proc_visible);
        assert!(live.exists() && other.exists());
        assert_eq!(temp_writer(".index.snapidx.tmp-42-XyZ1"), Some(42));
        assert_eq!(temp_writer("index.snapidx"), None);
    }
}
