//! Where a job lives in etcd: every key of job `NAME` is under `/snapstate/jobs/NAME/`.
//!
//! ```text
//! /snapstate/jobs/NAME/spec              the job spec (JSON), written by the first leader
//! /snapstate/jobs/NAME/election/<lease>  the election (etcd's election API); the leader
//!                                        key's create_revision is the leader epoch and its
//!                                        value the leader's gRPC address
//! /snapstate/jobs/NAME/checkpoint        the checkpoint pointer (JSON), leader-guarded
//! /snapstate/jobs/NAME/complete          present once every output is committed
//! /snapstate/jobs/NAME/node/000007/owner the claim on node 7, on its worker's lease; its
//!                                        create_revision is the claim's epoch
//! /snapstate/jobs/NAME/node/000007/done  present once node 7's whole queue is committed
//! ```

use crate::error::ClusterError;

/// The longest job name accepted.
pub const MAX_JOB_NAME: usize = 64;

/// The etcd keys of one job.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::JobKeys;
///
/// let keys = JobKeys::new("index-1")?;
/// assert_eq!(keys.owner(7), "/snapstate/jobs/index-1/node/000007/owner");
/// assert_eq!(keys.node_of(keys.owner(7).as_bytes()), Some((7, false)));
/// assert!(JobKeys::new("a/b").is_err());
/// # Ok::<(), snapstate_cluster::ClusterError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobKeys {
    name: String,
    prefix: String,
}

impl JobKeys {
    /// The keys of job `name`: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] for any other name.
    pub fn new(name: &str) -> Result<Self, ClusterError> {
        let ok = !name.is_empty()
            && name.len() <= MAX_JOB_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            && name != "."
            && name != "..";
        if !ok {
            return Err(ClusterError::Config(format!(
                "job name {name:?} is not 1 to {MAX_JOB_NAME} letters, digits, '.', '_' or '-'"
            )));
        }
        Ok(JobKeys {
            name: name.to_owned(),
            prefix: format!("/snapstate/jobs/{name}/"),
        })
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The prefix of every key of the job.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The job spec.
    pub fn spec(&self) -> String {
        format!("{}spec", self.prefix)
    }

    /// The election name (etcd's election API puts the candidates' keys under it).
    pub fn election(&self) -> String {
        format!("{}election", self.prefix)
    }

    /// The checkpoint pointer.
    pub fn checkpoint(&self) -> String {
        format!("{}checkpoint", self.prefix)
    }

    /// Present once the whole job is committed.
    pub fn complete(&self) -> String {
        format!("{}complete", self.prefix)
    }

    /// The prefix of every node key.
    pub fn nodes(&self) -> String {
        format!("{}node/", self.prefix)
    }

    /// The claim on node `node`.
    pub fn owner(&self, node: usize) -> String {
        format!("{}node/{node:06}/owner", self.prefix)
    }

    /// Present once node `node`'s queue is committed.
    pub fn done(&self, node: usize) -> String {
        format!("{}node/{node:06}/done", self.prefix)
    }

    /// Which node a key under [`nodes`](Self::nodes) is about, and whether it is its
    /// `done` key (`false`: its `owner` key). `None` for any other key.
    pub fn node_of(&self, key: &[u8]) -> Option<(usize, bool)> {
        let rest = key.strip_prefix(self.nodes().as_bytes())?;
        let rest = std::str::from_utf8(rest).ok()?;
        let (num, leaf) = rest.split_once('/')?;
        if num.len() != 6 || !num.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let node = num.parse().ok()?;
        match leaf {
            "owner" => Some((node, false)),
            "done" => Some((node, true)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_keys_parse_back() {
        for bad in ["", ".", "..", "a b", "a/b", &"x".repeat(65), "é"] {
            assert!(JobKeys::new(bad).is_err(), "{bad:?}");
        }
        let k = JobKeys::new("j.1_x-2").unwrap();
        assert_eq!(k.node_of(k.done(123_456).as_bytes()), Some((123_456, true)));
        assert_eq!(k.node_of(k.owner(0).as_bytes()), Some((0, false)));
        assert_eq!(k.node_of(b"/snapstate/jobs/j.1_x-2/node/12/owner"), None);
        assert_eq!(k.node_of(b"/snapstate/jobs/other/node/000001/owner"), None);
        assert_eq!(k.node_of(k.spec().as_bytes()), None);
        // No job's prefix is a prefix of another's.
        let k2 = JobKeys::new("j.1_x-22").unwrap();
        assert!(!k2.prefix().starts_with(k.prefix()));
    }
}
