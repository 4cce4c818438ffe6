//! [`confine`]: a path read from the job spec in etcd is used by a worker only if it
//! lies under one of the roots the worker was given on its own command line
//! (`--input-root`), after resolving `..` and symbolic links; and nothing under it
//! links out of those roots. So a forged or mistaken spec cannot make a worker read a
//! file it was not told it may read.
//!
//! The check is made when the worker rebuilds the job, before any input is opened. A
//! link created after the check (a race on a directory someone else can write) is
//! outside what can be checked here: keep inputs in directories only the job's user
//! can write.

use std::path::{Component, Path, PathBuf};

/// The most directory entries [`confine`] walks before it gives up (a spec cannot make
/// a worker walk a whole file system).
pub const MAX_ENTRIES: usize = 1_000_000;

/// Checks `path` (from a spec) against `roots`: returns its canonical form if it is
/// under one of them and no symbolic link under it resolves outside them.
///
/// # Errors
///
/// A message saying which path escapes, and how to allow it.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::confine;
///
/// let root = tempfile::tempdir()?;
/// std::fs::create_dir(root.path().join("corpus"))?;
/// assert!(confine(&root.path().join("corpus"), &[root.path().to_owned()]).is_ok());
/// assert!(confine(&root.path().join("corpus/../.."), &[root.path().to_owned()]).is_err());
/// assert!(confine(std::path::Path::new("/etc"), &[root.path().to_owned()]).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn confine(path: &Path, roots: &[PathBuf]) -> Result<PathBuf, String> {
    if !path.is_absolute() {
        return Err(format!(
            "the job's input {} is not an absolute path; a spec names inputs by absolute \
             path",
            path.display()
        ));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "the job's input {} contains '..'; refusing it",
            path.display()
        ));
    }
    let canonical_roots: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    let allow = |p: &Path| canonical_roots.iter().any(|r| p.starts_with(r));
    let how = || {
        format!(
            "a worker reads only under the roots given with --input-root (now: {}); add \
             the job's input directory there if this worker may read it",
            if roots.is_empty() {
                "none".to_owned()
            } else {
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )
    };
    let real = std::fs::canonicalize(path)
        .map_err(|e| format!("the job's input {} cannot be opened: {e}", path.display()))?;
    if !allow(&real) {
        return Err(format!(
            "the job's input {} (really {}) is outside the allowed roots: {}",
            path.display(),
            real.display(),
            how()
        ));
    }
    // Every link under it must stay inside too.
    let mut stack = vec![real.clone()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
            seen += 1;
            if seen > MAX_ENTRIES {
                return Err(format!(
                    "the job's input {} holds more than {MAX_ENTRIES} entries",
                    path.display()
                ));
            }
            let kind = entry
                .file_type()
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_symlink() {
                // A dangling link is skipped by the reader; one that resolves must stay in.
                if let Ok(target) = std::fs::canonicalize(entry.path()) {
                    if !allow(&target) {
                        return Err(format!(
                            "{} links to {}, outside the allowed roots: {}",
                            entry.path().display(),
                            target.display(),
                            how()
                        ));
                    }
                }
            }
        }
    }
    Ok(real)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn escapes_by_dots_absolute_paths_and_links_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let corpus = root.path().join("corpus");
        std::fs::create_dir_all(corpus.join("sub")).unwrap();
        std::fs::write(corpus.join("sub/a.txt"), "a").unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let roots = vec![root.path().to_owned()];
        assert!(confine(&corpus, &roots).is_ok());
        assert!(confine(&corpus, &[]).is_err());
        assert!(confine(Path::new("corpus"), &roots).is_err());
        assert!(confine(&corpus.join("sub/.."), &roots).is_err());
        assert!(confine(outside.path(), &roots).is_err());
        // A link inside to a file inside is fine; to a file outside is not.
        std::os::unix::fs::symlink(corpus.join("sub/a.txt"), corpus.join("ok-link")).unwrap();
        assert!(confine(&corpus, &roots).is_ok());
        std::os::unix::fs::symlink(outside.path().join("secret"), corpus.join("sub/bad")).unwrap();
        let e = confine(&corpus, &roots).unwrap_err();
        assert!(e.contains("--input-root"), "{e}");
        // The input itself a link out of the roots.
        let link = root.path().join("link-out");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        assert!(confine(&link, &roots).is_err());
    }
}
