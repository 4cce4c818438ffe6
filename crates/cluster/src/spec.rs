//! [`JobSpec`]: what a leader publishes in etcd so that any worker, on any machine, can
//! rebuild the job and check that it runs the same build.

use serde::{Deserialize, Serialize};

use crate::error::ClusterError;
use crate::keys::JobKeys;
use crate::plan::Plan;

/// The wire protocol version of the worker<->leader stream.
pub const PROTOCOL: u32 = 1;
/// This build's version: a spec written by another build is refused.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The format of the spec itself.
pub const SPEC_FORMAT: u32 = 1;
/// The largest spec accepted, in bytes (well under etcd's 1.5 MiB request limit).
pub const MAX_SPEC_BYTES: usize = 64 * 1024;

/// Timings and limits every process of the job uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// The TTL of workers' leases, in milliseconds (whole seconds, as etcd grants).
    pub lease_ttl_ms: u64,
    /// How often a worker says it is alive while a subtask runs, in milliseconds.
    pub heartbeat_ms: u64,
    /// How long the leader waits for a word from a claim's stream before it revokes the
    /// claim, in milliseconds.
    pub stall_timeout_ms: u64,
    /// The largest encoded output of one subtask, in bytes.
    pub max_output_bytes: u64,
}

impl Runtime {
    /// The bounds each field must lie in.
    pub const MAX_OUTPUT_BYTES: u64 = 64 << 20;

    fn validate(&self) -> Result<(), String> {
        let in_range = |name: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} is {v}, not between {lo} and {hi}"))
            }
        };
        in_range("lease_ttl_ms", self.lease_ttl_ms, 1_000, 600_000)?;
        in_range("heartbeat_ms", self.heartbeat_ms, 1, 600_000)?;
        in_range("stall_timeout_ms", self.stall_timeout_ms, 1, 86_400_000)?;
        in_range(
            "max_output_bytes",
            self.max_output_bytes,
            1,
            Self::MAX_OUTPUT_BYTES,
        )
    }
}

/// A job as etcd holds it: everything a worker needs to rebuild it, and the build that
/// wrote it.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::{JobSpec, Plan, Runtime};
///
/// let spec = JobSpec::new(
///     "index-1",
///     "search-index",
///     serde_json::json!({"docs": 1000}),
///     "identity-digest",
///     Plan::new(2, 16)?,
///     Runtime { lease_ttl_ms: 2000, heartbeat_ms: 200, stall_timeout_ms: 5000, max_output_bytes: 1 << 20 },
/// );
/// let parsed = JobSpec::parse(&spec.to_json())?;
/// assert_eq!(parsed, spec);
/// parsed.check_build()?;
/// assert!(parsed.differences(&spec).is_empty());
/// # Ok::<(), snapstate_cluster::ClusterError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// [`SPEC_FORMAT`].
    pub format: u32,
    /// [`PROTOCOL`] of the build that wrote it.
    pub protocol: u32,
    /// [`VERSION`] of the build that wrote it.
    pub version: String,
    /// The job's name.
    pub job: String,
    /// Which kind of job (the CLI maps it to a job type), e.g. `search-index`.
    pub kind: String,
    /// The job's own parameters, as its kind defines them.
    pub params: serde_json::Value,
    /// The job's identity digest (what it computes): a worker's rebuilt job must match.
    pub identity: String,
    /// Nodes and subtasks.
    pub plan: Plan,
    /// Timings and limits.
    pub runtime: Runtime,
}

impl JobSpec {
    /// A spec written by this build.
    pub fn new(
        job: &str,
        kind: &str,
        params: serde_json::Value,
        identity: &str,
        plan: Plan,
        runtime: Runtime,
    ) -> Self {
        JobSpec {
            format: SPEC_FORMAT,
            protocol: PROTOCOL,
            version: VERSION.to_owned(),
            job: job.to_owned(),
            kind: kind.to_owned(),
            params,
            identity: identity.to_owned(),
            plan,
            runtime,
        }
    }

    /// The JSON stored in etcd.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and checks a spec read from etcd: its size, its format, the job name, the
    /// plan and the runtime bounds. (Whether this build may run it is
    /// [`check_build`](Self::check_build).)
    ///
    /// # Errors
    ///
    /// [`ClusterError::Spec`] saying what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self, ClusterError> {
        if bytes.len() > MAX_SPEC_BYTES {
            return Err(ClusterError::Spec(format!(
                "the job spec in etcd is {} bytes, more than the {MAX_SPEC_BYTES} accepted",
                bytes.len()
            )));
        }
        let spec: JobSpec = serde_json::from_slice(bytes).map_err(|e| {
            ClusterError::Spec(format!(
                "the job spec in etcd is not one this build reads ({e}); \
                 was it written by another snapstate version?"
            ))
        })?;
        if spec.format != SPEC_FORMAT {
            return Err(ClusterError::Spec(format!(
                "the job spec has format {}, this build reads format {SPEC_FORMAT}",
                spec.format
            )));
        }
        JobKeys::new(&spec.job).map_err(|e| ClusterError::Spec(e.to_string()))?;
        Plan::new(spec.plan.nodes, spec.plan.subtasks)
            .map_err(|e| ClusterError::Spec(format!("the job spec's plan: {e}")))?;
        spec.runtime
            .validate()
            .map_err(|e| ClusterError::Spec(format!("the job spec's runtime: {e}")))?;
        Ok(spec)
    }

    /// Checks that this build may run the spec: same protocol and version.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Spec`] naming both builds.
    pub fn check_build(&self) -> Result<(), ClusterError> {
        if self.protocol != PROTOCOL || self.version != VERSION {
            return Err(ClusterError::Spec(format!(
                "job {:?} was started by snapstate {} (protocol {}), this is snapstate {VERSION} \
                 (protocol {PROTOCOL}); run the same snapstate build on every machine of a job",
                self.job, self.version, self.protocol
            )));
        }
        Ok(())
    }

    /// How `other` differs from `self` in what the job computes (runtime settings
    /// aside); empty if they are the same job.
    pub fn differences(&self, other: &JobSpec) -> Vec<String> {
        let mut d = Vec::new();
        let mut cmp = |name: &str, a: String, b: String| {
            if a != b {
                d.push(format!("{name}: {a} vs {b}"));
            }
        };
        cmp("version", self.version.clone(), other.version.clone());
        cmp(
            "protocol",
            self.protocol.to_string(),
            other.protocol.to_string(),
        );
        cmp("job", self.job.clone(), other.job.clone());
        cmp("kind", self.kind.clone(), other.kind.clone());
        cmp("params", self.params.to_string(), other.params.to_string());
        cmp("identity", self.identity.clone(), other.identity.clone());
        cmp(
            "nodes",
            self.plan.nodes.to_string(),
            other.plan.nodes.to_string(),
        );
        cmp(
            "subtasks",
            self.plan.subtasks.to_string(),
            other.plan.subtasks.to_string(),
        );
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec::new(
            "j",
            "k",
            serde_json::json!({"a": 1}),
            "id",
            Plan::new(2, 3).unwrap(),
            Runtime {
                lease_ttl_ms: 1000,
                heartbeat_ms: 100,
                stall_timeout_ms: 1000,
                max_output_bytes: 100,
            },
        )
    }

    #[test]
    fn bad_specs_are_refused_with_a_reason() {
        assert!(JobSpec::parse(b"not json").is_err());
        assert!(JobSpec::parse(&vec![b' '; MAX_SPEC_BYTES + 1]).is_err());
        let mut s = spec();
        s.plan.nodes = 0;
        assert!(JobSpec::parse(&s.to_json()).is_err());
        let mut s = spec();
        s.job = "../x".into();
        assert!(JobSpec::parse(&s.to_json()).is_err());
        let mut s = spec();
        s.runtime.lease_ttl_ms = 10;
        assert!(JobSpec::parse(&s.to_json()).is_err());
        let mut json: serde_json::Value = serde_json::from_slice(&spec().to_json()).unwrap();
        json["extra"] = 1.into();
        assert!(JobSpec::parse(json.to_string().as_bytes()).is_err());
    }

    #[test]
    fn another_build_is_refused_and_differences_are_named() {
        let mut s = spec();
        s.version = "0.0.0-other".into();
        let e = JobSpec::parse(&s.to_json())
            .unwrap()
            .check_build()
            .unwrap_err();
        assert!(e.to_string().contains("0.0.0-other"), "{e}");
        let mut t = spec();
        t.params = serde_json::json!({"a": 2});
        t.runtime.heartbeat_ms = 5;
        let d = spec().differences(&t);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("params"));
    }
}
