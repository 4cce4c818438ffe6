//! What a checkpoint is bound to: the job's identity and each subtask's input fingerprint.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a job is: a kind and named parameters, each of which changes what its subtasks
/// mean (an input listing, a seed, a shard count). Every file of a checkpoint directory
/// carries the identity's [`digest`](JobIdentity::digest); a directory written under
/// another identity is refused, and the refusal names the parameters that differ.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::JobIdentity;
///
/// let a = JobIdentity::new("index").with("seed", 1).with("shards", 8);
/// let b = JobIdentity::new("index").with("seed", 2).with("shards", 8);
/// assert_ne!(a.digest(), b.digest());
/// assert_eq!(a.differences(&b), vec!["seed: 1 here, 2 there".to_owned()]);
/// assert_eq!(a.to_string(), "index (seed 1, shards 8)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobIdentity {
    kind: String,
    params: Vec<(String, String)>,
}

/// A 32-byte digest (BLAKE3), shown as hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Digest(pub [u8; 32]);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl JobIdentity {
    /// An identity of kind `kind` with no parameters yet.
    pub fn new(kind: impl Into<String>) -> Self {
        JobIdentity {
            kind: kind.into(),
            params: Vec::new(),
        }
    }

    /// Adds parameter `key = value`.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl fmt::Display) -> Self {
        self.params.push((key.into(), value.to_string()));
        self
    }

    /// The kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The parameters, in the order they were added.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of parameter `key`, if set.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params().find_map(|(k, v)| (k == key).then_some(v))
    }

    /// BLAKE3 of the kind and every parameter, unambiguously framed.
    pub fn digest(&self) -> Digest {
        let mut h = blake3::Hasher::new();
        let mut field = |s: &str| {
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field("snapstate-job-identity-v1");
        field(&self.kind);
        for (k, v) in &self.params {
            field(k);
            field(v);
        }
        Digest(*h.finalize().as_bytes())
    }

    /// The parameters that differ from `other`'s, as `"key: mine here, theirs there"`
    /// lines (a different kind is one line too).
    pub fn differences(&self, other: &JobIdentity) -> Vec<String> {
        let mut out = Vec::new();
        if self.kind != other.kind {
            out.push(format!("kind: {} here, {} there", self.kind, other.kind));
        }
        for (k, v) in self.params() {
            match other.param(k) {
                Some(w) if w == v => {}
                Some(w) => out.push(format!("{k}: {v} here, {w} there")),
                None => out.push(format!("{k}: {v} here, not set there")),
            }
        }
        for (k, w) in other.params() {
            if self.param(k).is_none() {
                out.push(format!("{k}: not set here, {w} there"));
            }
        }
        out
    }
}

impl fmt::Display for JobIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        if !self.params.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.params.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k} {v}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A content hash (BLAKE3) of the inputs one subtask reads.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::{Fingerprint, Fingerprinter};
///
/// let mut f = Fingerprinter::new();
/// f.update(b"hello ");
/// f.update(b"world");
/// assert_eq!(f.finish(), Fingerprint::of(b"hello world"));
/// assert_ne!(Fingerprint::of(b"hello world"), Fingerprint::NO_INPUT);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Fingerprint(pub Digest);

impl Fingerprint {
    /// The fingerprint of a subtask that reads no input.
    pub const NO_INPUT: Fingerprint = Fingerprint(Digest([0; 32]));

    /// The fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut f = Fingerprinter::new();
        f.update(bytes);
        f.finish()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.0)
    }
}

/// Builds a [`Fingerprint`] from input bytes fed in pieces.
#[derive(Clone, Debug, Default)]
pub struct Fingerprinter(blake3::Hasher);

impl Fingerprinter {
    /// An empty fingerprinter.
    pub fn new() -> Self {
        Fingerprinter(blake3::Hasher::new())
    }

    /// Feeds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    /// Feeds a length-prefixed field, so that `("ab", "c")` and `("a", "bc")` differ.
    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The fingerprint of everything fed.
    pub fn finish(&self) -> Fingerprint {
        Fingerprint(Digest(*self.0.finalize().as_bytes()))
    }
}
