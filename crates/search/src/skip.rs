//! Files left out of an index, and why.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a file under the input directory is not in the index.
///
/// The first group are choices (the walk's filters); the second are problems, which
/// are warned about, and which `--strict` (see
/// [`WalkOptions::strict`](crate::WalkOptions::strict)) turns into errors.
///
/// # Examples
///
/// ```
/// use snapstate_search::SkipReason;
///
/// assert_eq!(SkipReason::Binary.to_string(), "binary");
/// assert!(!SkipReason::Binary.is_problem());
/// assert!(SkipReason::Unreadable.is_problem());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// A hidden file or directory (its name starts with `.`).
    Hidden,
    /// Matched by a `.gitignore`, `.ignore` or `.git/info/exclude` inside the input.
    Ignored,
    /// Left out by a `--glob` pattern.
    Glob,
    /// The checkpoint or output directory of the run itself.
    Excluded,
    /// Not text: a NUL byte, or many control bytes (see
    /// [`decode_text`](crate::decode_text)).
    Binary,
    /// The same file as one already indexed (a symbolic or hard link to it).
    Duplicate,
    /// Not a regular file (a FIFO, socket or device).
    Special,
    /// A symbolic link to nothing.
    DanglingLink,
    /// A symbolic link that leads back to itself or to a directory above it.
    SymlinkLoop,
    /// It could not be read (permissions, I/O error).
    Unreadable,
    /// It was deleted after the walk listed it and before it was read.
    Vanished,
}

impl SkipReason {
    /// Every reason, in the order summaries list them.
    pub const ALL: [SkipReason; 11] = [
        SkipReason::Hidden,
        SkipReason::Ignored,
        SkipReason::Glob,
        SkipReason::Excluded,
        SkipReason::Binary,
        SkipReason::Duplicate,
        SkipReason::Special,
        SkipReason::DanglingLink,
        SkipReason::SymlinkLoop,
        SkipReason::Unreadable,
        SkipReason::Vanished,
    ];

    /// Whether this is a problem with the input (warned about; an error under
    /// `--strict`) rather than a filter's choice.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            SkipReason::DanglingLink
                | SkipReason::SymlinkLoop
                | SkipReason::Unreadable
                | SkipReason::Vanished
        )
    }

    /// The reason's name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Hidden => "hidden",
            SkipReason::Ignored => "ignored",
            SkipReason::Glob => "glob",
            SkipReason::Excluded => "excluded",
            SkipReason::Binary => "binary",
            SkipReason::Duplicate => "duplicate",
            SkipReason::Special => "special",
            SkipReason::DanglingLink => "dangling_link",
            SkipReason::SymlinkLoop => "symlink_loop",
            SkipReason::Unreadable => "unreadable",
            SkipReason::Vanished => "vanished",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file (or directory: its name ends with `/`) left out of an index.
///
/// # Examples
///
/// ```
/// use snapstate_search::{SkipReason, Skipped};
///
/// let s = Skipped::new("notes/secret.txt", SkipReason::Unreadable, "Permission denied");
/// assert_eq!(s.to_string(), "notes/secret.txt: unreadable (Permission denied)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skipped {
    /// Its path under the input directory, `/`-separated (see
    /// [`Corpus::doc_name`](crate::Corpus::doc_name) for names that are not UTF-8).
    pub name: String,
    /// Why it was left out.
    pub reason: SkipReason,
    /// More about it: the OS error, or the file it duplicates; may be empty.
    pub detail: String,
}

impl Skipped {
    /// A skipped file.
    pub fn new(name: impl Into<String>, reason: SkipReason, detail: impl Into<String>) -> Self {
        Skipped {
            name: name.into(),
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.reason)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

/// How many files were left out for each reason.
///
/// # Examples
///
/// ```
/// use snapstate_search::{skip_counts, SkipReason, Skipped};
///
/// let skipped = [
///     Skipped::new("a.gz", SkipReason::Binary, ""),
///     Skipped::new("b.gz", SkipReason::Binary, ""),
///     Skipped::new(".git/", SkipReason::Hidden, ""),
/// ];
/// let counts = skip_counts(&skipped);
/// assert_eq!(counts[&SkipReason::Binary], 2);
/// assert_eq!(counts.len(), 2);
/// ```
pub fn skip_counts(skipped: &[Skipped]) -> BTreeMap<SkipReason, u64> {
    let mut counts = BTreeMap::new();
    for s in skipped {
        *counts.entry(s.reason).or_insert(0) += 1;
    }
    counts
}
