//! Listing the files under an input directory, with the `ignore` crate's walker (the
//! one ripgrep uses): hidden files, ignore files and `--glob` patterns as ripgrep treats
//! them, symbolic links followed with loops detected, each file listed once, and every
//! file left out recorded with its reason.
//!
//! The walk does not read files (only directories and metadata): whether a file is
//! text is decided when it is indexed, from the one read of its bytes.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ignore::overrides::{Override, OverrideBuilder};
use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkBuilder, WalkState};

use crate::skip::{SkipReason, Skipped};

/// How the input directory is walked: which files are candidates for the index.
///
/// The defaults are ripgrep's, with two differences that make a directory index the
/// same wherever it is: ignore files count only inside the input directory (not in its
/// parents, not the global gitignore), and `.gitignore` counts even outside a git
/// repository. Symbolic links are followed (ripgrep's `-L`), and a file reached under
/// several names is indexed once.
///
/// # Examples
///
/// ```
/// use snapstate_search::WalkOptions;
///
/// let options = WalkOptions::new().glob("*.md").glob("!drafts/").strict(true);
/// assert_eq!(options.globs(), ["*.md", "!drafts/"]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    hidden: bool,
    no_ignore: bool,
    globs: Vec<String>,
    exclude: Vec<PathBuf>,
    strict: bool,
    threads: usize,
}

impl WalkOptions {
    /// The defaults: hidden files and ignored files left out, no globs, nothing else
    /// excluded, problems skipped with a warning, one walking thread per core.
    pub fn new() -> Self {
        WalkOptions::default()
    }

    /// Includes hidden files and directories (names starting with `.`).
    #[must_use]
    pub fn hidden(mut self, yes: bool) -> Self {
        self.hidden = yes;
        self
    }

    /// Disregards `.gitignore`, `.ignore` and `.git/info/exclude` files.
    #[must_use]
    pub fn no_ignore(mut self, yes: bool) -> Self {
        self.no_ignore = yes;
        self
    }

    /// Adds a glob, as ripgrep's `--glob`: a file is a candidate only if it matches
    /// some glob (when any is given without `!`); a path matching a `!glob` is left
    /// out. Globs match paths relative to the input directory, gitignore-style.
    #[must_use]
    pub fn glob(mut self, glob: impl Into<String>) -> Self {
        self.globs.push(glob.into());
        self
    }

    /// Leaves a directory out of the walk (the run's checkpoint and output
    /// directories, so that a run never indexes its own files). A path that does not
    /// exist yet holds nothing to leave out.
    #[must_use]
    pub fn exclude(mut self, dir: impl Into<PathBuf>) -> Self {
        self.exclude.push(dir.into());
        self
    }

    /// Makes every problem ([`SkipReason::is_problem`]) an error instead of a skipped
    /// file with a warning.
    #[must_use]
    pub fn strict(mut self, yes: bool) -> Self {
        self.strict = yes;
        self
    }

    /// Threads walking the directory (0, the default: one per core).
    #[must_use]
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// The globs, in the order given.
    pub fn globs(&self) -> &[String] {
        &self.globs
    }

    /// Whether problems are errors.
    pub fn is_strict(&self) -> bool {
        self.strict
    }
}

/// A file the walk found: a candidate document.
#[derive(Debug)]
pub(crate) struct Found {
    /// The path under the root as bytes, `/`-separated: the sort key.
    pub(crate) key: Vec<u8>,
    /// The path to open.
    pub(crate) path: PathBuf,
    /// Its size when listed.
    pub(crate) len: u64,
}

/// What the walk found and what it left out.
#[derive(Debug)]
pub(crate) struct Listing {
    /// Candidate documents, in key order.
    pub(crate) files: Vec<Found>,
    /// Left out, in name order.
    pub(crate) skipped: Vec<Skipped>,
}

/// Why the walk could not start.
#[derive(Debug)]
pub(crate) enum WalkError {
    /// A `--glob` does not parse.
    Glob(String, ignore::Error),
}

/// The identity of a file for "is this the same file" (device and inode on Unix).
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(meta: &fs::Metadata, _path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn file_id(_meta: &fs::Metadata, path: &Path) -> Option<FileId> {
    use std::hash::{Hash, Hasher};
    // No inode numbers: the canonical path stands in for the file.
    let canonical = fs::canonicalize(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    canonical.hash(&mut h);
    Some((0, h.finish()))
}

/// The `/`-separated bytes of `path` under `root`.
fn key_of(root: &Path, path: &Path) -> Vec<u8> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut key = Vec::new();
    for (i, part) in rel.components().enumerate() {
        if i > 0 {
            key.push(b'/');
        }
        key.extend_from_slice(part.as_os_str().as_encoded_bytes());
    }
    key
}

/// A document name from a key: UTF-8 as it is, each byte that is not part of valid
/// UTF-8 written as `\xNN`.
pub(crate) fn display_name(key: &[u8]) -> String {
    let mut out = String::with_capacity(key.len());
    for chunk in key.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// Whether `e` is "too many levels of symbolic links".
fn is_loop_error(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// What one walking thread collects.
#[derive(Debug, Default)]
struct Collected {
    found: Vec<(Found, FileId, bool)>,
    /// Every path the walker reported, files, directories and errors alike.
    reported: Vec<PathBuf>,
    /// Each directory walked into (to find, when ignore files or globs are in play,
    /// what the walker left out without a word).
    dirs: Vec<PathBuf>,
    /// Directories reached through a symbolic link.
    linked_dirs: Vec<PathBuf>,
    skipped: Vec<(PathBuf, bool, SkipReason, String)>,
}

struct Visitor<'a> {
    root: &'a Path,
    exclude: &'a [(FileId, u64)],
    local: Collected,
    sink: &'a Mutex<Vec<Collected>>,
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let local = std::mem::take(&mut self.local);
        self.sink
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(local);
    }
}

impl Visitor<'_> {
    fn skip(&mut self, path: PathBuf, is_dir: bool, reason: SkipReason, detail: String) {
        self.local.reported.push(path.clone());
        self.local.skipped.push((path, is_dir, reason, detail));
    }

    fn error(&mut self, err: ignore::Error) {
        let (path, reason, detail) = classify_error(&err);
        match path {
            Some(path) => {
                let is_dir = fs::metadata(&path).is_ok_and(|m| m.is_dir());
                self.skip(path, is_dir, reason, detail);
            }
            // An error with no path (none known to occur): name it by the root.
            None => self.skip(self.root.to_owned(), true, reason, detail),
        }
    }

    fn entry(&mut self, entry: DirEntry) -> WalkState {
        let path = entry.path().to_owned();
        let Some(kind) = entry.file_type() else {
            return WalkState::Continue;
        };
        if kind.is_dir() {
            if entry
                .ino()
                .is_some_and(|ino| self.exclude.iter().any(|e| e.1 == ino))
            {
                let id = fs::metadata(&path).ok().and_then(|m| file_id(&m, &path));
                if id.is_some_and(|id| self.exclude.iter().any(|e| e.0 == id)) {
                    let detail = "the run's own checkpoint or output directory".to_owned();
                    self.skip(path, true, SkipReason::Excluded, detail);
                    return WalkState::Skip;
                }
            }
            if entry.path_is_symlink() {
                self.local.linked_dirs.push(path.clone());
            }
            self.local.dirs.push(path.clone());
            self.local.reported.push(path);
            return WalkState::Continue;
        }
        if !kind.is_file() {
            self.skip(path, false, SkipReason::Special, String::new());
            return WalkState::Continue;
        }
        match fs::metadata(&path) {
            Ok(meta) => {
                let Some(id) = file_id(&meta, &path) else {
                    let detail = "cannot resolve its path".to_owned();
                    self.skip(path, false, SkipReason::Unreadable, detail);
                    return WalkState::Continue;
                };
                let found = Found {
                    key: key_of(self.root, &path),
                    path: path.clone(),
                    len: meta.len(),
                };
                self.local.reported.push(path);
                self.local.found.push((found, id, entry.path_is_symlink()));
            }
            Err(e) => {
                let reason = if e.kind() == io::ErrorKind::NotFound {
                    SkipReason::Vanished
                } else {
                    SkipReason::Unreadable
                };
                self.skip(path, false, reason, e.to_string());
            }
        }
        WalkState::Continue
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<DirEntry, ignore::Error>) -> WalkState {
        match entry {
            Ok(entry) => self.entry(entry),
            Err(err) => {
                self.error(err);
                WalkState::Continue
            }
        }
    }
}

struct Builder<'a> {
    root: &'a Path,
    exclude: &'a [(FileId, u64)],
    sink: &'a Mutex<Vec<Collected>>,
}

impl<'s> ParallelVisitorBuilder<'s> for Builder<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            root: self.root,
            exclude: self.exclude,
            local: Collected::default(),
            sink: self.sink,
        })
    }
}

/// The path, reason and detail of a walker error.
fn classify_error(err: &ignore::Error) -> (Option<PathBuf>, SkipReason, String) {
    match err {
        ignore::Error::Loop { child, ancestor } => (
            Some(child.clone()),
            SkipReason::SymlinkLoop,
            format!("leads back to {}", ancestor.display()),
        ),
        ignore::Error::WithPath { path, err } => {
            let (_, reason, detail) = classify_error(err);
            let reason = match (reason, fs::symlink_metadata(path)) {
                (SkipReason::Vanished, Ok(m)) if m.file_type().is_symlink() => {
                    SkipReason::DanglingLink
                }
                (reason, _) => reason,
            };
            (Some(path.clone()), reason, detail)
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            classify_error(err)
        }
        ignore::Error::Partial(errs) => match errs.first() {
            Some(first) => classify_error(first),
            None => (None, SkipReason::Unreadable, err.to_string()),
        },
        ignore::Error::Io(e) => {
            let reason = if is_loop_error(e) {
                SkipReason::SymlinkLoop
            } else if e.kind() == io::ErrorKind::NotFound {
                SkipReason::Vanished
            } else {
                SkipReason::Unreadable
            };
            (None, reason, e.to_string())
        }
        other => (None, SkipReason::Unreadable, other.to_string()),
    }
}

/// Lists the candidate documents under `root` (an existing directory).
pub(crate) fn walk(root: &Path, options: &WalkOptions) -> Result<Listing, WalkError> {
    // The walker does not descend into a root given as a symbolic link.
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    let root = root.as_path();
    let mut overrides = OverrideBuilder::new(root);
    for glob in &options.globs {
        overrides
            .add(glob)
            .map_err(|e| WalkError::Glob(glob.clone(), e))?;
    }
    let overrides = overrides
        .build()
        .map_err(|e| WalkError::Glob(options.globs.join(" "), e))?;
    let exclude: Vec<(FileId, u64)> = options
        .exclude
        .iter()
        .filter_map(|dir| {
            let meta = fs::metadata(dir).ok()?;
            let id = file_id(&meta, dir)?;
            Some((id, id.1))
        })
        .collect();
    let threads = match options.threads {
        0 => rayon::current_num_threads(),
        n => n,
    };
    // Hidden entries are left out here rather than by the walker, so that they are
    // counted without listing every directory twice; ignore files are noted, since
    // what they leave out can only be found that way.
    let hidden: Arc<Mutex<Vec<PathBuf>>> = Arc::default();
    let ignore_files = Arc::new(AtomicBool::new(false));
    let filter = {
        let (hidden, ignore_files) = (Arc::clone(&hidden), Arc::clone(&ignore_files));
        let (keep_hidden, no_ignore) = (options.hidden, options.no_ignore);
        move |entry: &DirEntry| {
            let name = entry.file_name().as_encoded_bytes();
            if !no_ignore && matches!(name, b".gitignore" | b".ignore" | b".git") {
                // Relaxed: read after the walk's threads are joined.
                ignore_files.store(true, Ordering::Relaxed);
            }
            if keep_hidden || !name.starts_with(b".") {
                return true;
            }
            let path = entry.path().to_owned();
            hidden
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(path);
            false
        }
    };
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .filter_entry(filter)
        .parents(false)
        .ignore(!options.no_ignore)
        .git_ignore(!options.no_ignore)
        .git_exclude(!options.no_ignore)
        .git_global(false)
        .require_git(false)
        .follow_links(true)
        .overrides(overrides.clone())
        .threads(threads);
    let sink = Mutex::new(Vec::new());
    builder.build_parallel().visit(&mut Builder {
        root,
        exclude: &exclude,
        sink: &sink,
    });
    let mut parts = sink.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut hidden = std::mem::take(&mut *hidden.lock().unwrap_or_else(PoisonError::into_inner));
    let mut found_hidden = Collected::default();
    for path in hidden.drain(..) {
        let is_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        found_hidden.reported.push(path.clone());
        found_hidden
            .skipped
            .push((path, is_dir, SkipReason::Hidden, String::new()));
    }
    parts.push(found_hidden);
    // Relaxed: the walk's threads are joined.
    let silent_drops = ignore_files.load(Ordering::Relaxed) || !options.globs.is_empty();
    Ok(assemble(root, &overrides, parts, silent_drops))
}

/// Joins the threads' findings: what the walker dropped silently, duplicates, order.
fn assemble(
    root: &Path,
    overrides: &Override,
    parts: Vec<Collected>,
    silent_drops: bool,
) -> Listing {
    let mut all = Collected::default();
    for mut part in parts {
        all.found.append(&mut part.found);
        all.reported.append(&mut part.reported);
        all.dirs.append(&mut part.dirs);
        all.linked_dirs.append(&mut part.linked_dirs);
        all.skipped.append(&mut part.skipped);
    }
    let mut skipped = Vec::new();
    let mut push = |path: &Path, is_dir: bool, reason, detail| {
        let mut name = display_name(&key_of(root, path));
        if is_dir {
            name.push('/');
        }
        skipped.push(Skipped::new(name, reason, detail));
    };
    for (path, is_dir, reason, detail) in all.skipped {
        push(&path, is_dir, reason, detail);
    }
    // What the walker passed over without reporting (ignored, globbed out): the
    // directories' entries it did not report. Listed again only if ignore files or
    // globs were in play; otherwise there is nothing of the kind.
    if silent_drops {
        let reported: HashSet<&Path> = all.reported.iter().map(PathBuf::as_path).collect();
        let listings: Vec<Vec<(PathBuf, bool)>> = all
            .dirs
            .iter()
            .map(|dir| {
                let Ok(read) = fs::read_dir(dir) else {
                    return Vec::new();
                };
                read.filter_map(Result::ok)
                    .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
                    .collect()
            })
            .collect();
        for (path, is_dir) in listings.into_iter().flatten() {
            if reported.contains(path.as_path()) {
                continue;
            }
            let reason = if overrides.matched(&path, is_dir).is_ignore() {
                SkipReason::Glob
            } else {
                SkipReason::Ignored
            };
            push(&path, is_dir, reason, String::new());
        }
    }
    // One name per file: prefer a path with no link in it, then the first in order.
    let linked: HashSet<&Path> = all.linked_dirs.iter().map(PathBuf::as_path).collect();
    let via_link = |path: &Path, is_link: bool| {
        is_link
            || path
                .ancestors()
                .skip(1)
                .take_while(|a| *a != root)
                .any(|a| linked.contains(a))
    };
    let mut by_id: HashMap<FileId, Vec<usize>> = HashMap::new();
    for (i, (_, id, _)) in all.found.iter().enumerate() {
        by_id.entry(*id).or_default().push(i);
    }
    let mut keep = vec![true; all.found.len()];
    for group in by_id.values().filter(|g| g.len() > 1) {
        let rank = |&i: &usize| {
            let (f, _, is_link) = &all.found[i];
            (via_link(&f.path, *is_link), f.key.clone())
        };
        let keeper = *group.iter().min_by_key(|i| rank(i)).unwrap_or(&group[0]);
        let keeper_name = display_name(&all.found[keeper].0.key);
        for &i in group.iter().filter(|&&i| i != keeper) {
            keep[i] = false;
            push(
                &all.found[i].0.path,
                false,
                SkipReason::Duplicate,
                format!("same file as {keeper_name}"),
            );
        }
    }
    let mut files: Vec<Found> = all
        .found
        .into_iter()
        .zip(keep)
        .filter_map(|((f, _, _), keep)| keep.then_some(f))
        .collect();
    files.sort_by(|a, b| a.key.cmp(&b.key));
    skipped.sort();
    Listing { files, skipped }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn names(listing: &Listing) -> Vec<String> {
        listing.files.iter().map(|f| display_name(&f.key)).collect()
    }

    #[test]
    fn a_file_reached_through_links_is_listed_once_under_its_own_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("real")).unwrap();
        fs::write(root.join("real/z.txt"), "z").unwrap();
        fs::hard_link(root.join("real/z.txt"), root.join("real/zz.txt")).unwrap();
        // Links that sort before the file they point to.
        symlink("real/z.txt", root.join("a-link.txt")).unwrap();
        symlink("real", root.join("b-alias")).unwrap();
        let listing = walk(root, &WalkOptions::new()).unwrap();
        assert_eq!(names(&listing), ["real/z.txt"]);
        let dups: Vec<(String, String)> = listing
            .skipped
            .iter()
            .map(|s| (s.name.clone(), s.detail.clone()))
            .collect();
        let same = "same file as real/z.txt".to_owned();
        assert_eq!(
            dups,
            [
                ("a-link.txt".to_owned(), same.clone()),
                ("b-alias/z.txt".to_owned(), same.clone()),
                ("b-alias/zz.txt".to_owned(), same.clone()),
                ("real/zz.txt".to_owned(), same),
            ]
        );
    }

    #[test]
    fn excluded_directories_are_left_out_even_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("a.txt"), "a").unwrap();
        fs::create_dir_all(root.join("ckpt/outputs")).unwrap();
        fs::write(root.join("ckpt/snapstate-job.json"), "{}").unwrap();
        symlink("ckpt", root.join("via-link")).unwrap();
        let options = WalkOptions::new()
            .exclude(root.join("ckpt"))
            .exclude(root.join("not-yet-created"));
        let listing = walk(root, &options).unwrap();
        assert_eq!(names(&listing), ["a.txt"]);
        let excluded: Vec<&str> = listing
            .skipped
            .iter()
            .filter(|s| s.reason == SkipReason::Excluded)
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(excluded, ["ckpt/", "via-link/"]);
        // Without the exclusion the checkpoint's files are documents.
        let listing = walk(root, &WalkOptions::new()).unwrap();
        assert!(names(&listing).contains(&"ckpt/snapstate-job.json".to_owned()));
    }

    #[test]
    fn names_that_are_not_utf8_are_kept_with_their_bytes_escaped() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let name = std::ffi::OsStr::from_bytes(b"caf\xE9 \xFF.txt");
        fs::write(dir.path().join(name), "x").unwrap();
        let listing = walk(dir.path(), &WalkOptions::new()).unwrap();
        assert_eq!(names(&listing), ["caf\\xE9 \\xFF.txt"]);
        assert_eq!(listing.files[0].key, b"caf\xE9 \xFF.txt");
    }
}
