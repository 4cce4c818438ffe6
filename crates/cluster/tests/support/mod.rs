//! A toy job for the in-process tests: subtask `k` outputs `k * k`, after a delay.

#![allow(dead_code)] // Each test file uses a part.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use snapstate_cluster::etcd::EtcdOptions;
use snapstate_cluster::{
    CoordinatorOptions, JobKind, JobSpec, Log, OutputCheck, Plan, Runtime, WorkerOptions,
};
use snapstate_coordinator::{Job, JobError, JobIdentity, TaskContext};

pub(crate) struct Squares {
    pub(crate) n: usize,
    pub(crate) delay_ms: u64,
    /// Subtask that hangs, without a heartbeat, the first time it runs in this process.
    pub(crate) hang: Option<usize>,
}

/// Whether the hanging subtask has hung once already.
pub(crate) static HUNG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl Job for Squares {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("squares").with("n", self.n)
    }
    fn subtasks(&self) -> usize {
        self.n
    }
    fn run(&self, k: usize, ctx: &TaskContext) -> Result<u64, JobError> {
        // SeqCst: a test flag, read once per subtask.
        if self.hang == Some(k) && !HUNG.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_secs(4));
        }
        for _ in 0..self.delay_ms {
            std::thread::sleep(Duration::from_millis(1));
            ctx.heartbeat()?;
        }
        Ok((k * k) as u64)
    }
}

pub(crate) struct SquaresKind;

impl JobKind for SquaresKind {
    type Job = Squares;
    fn kind(&self) -> &'static str {
        "squares"
    }
    fn build(&self, p: &serde_json::Value) -> Result<Squares, String> {
        Ok(Squares {
            n: p["n"].as_u64().ok_or("n")? as usize,
            delay_ms: p["delay_ms"].as_u64().ok_or("delay_ms")?,
            hang: p["hang"].as_u64().map(|h| h as usize),
        })
    }
}

pub(crate) fn spec(job: &str, n: usize, nodes: usize, delay_ms: u64) -> JobSpec {
    spec_with(
        job,
        serde_json::json!({"n": n, "delay_ms": delay_ms}),
        nodes,
    )
}

pub(crate) fn spec_with(job: &str, params: serde_json::Value, nodes: usize) -> JobSpec {
    let n = params["n"].as_u64().unwrap() as usize;
    let built = SquaresKind.build(&params).unwrap();
    JobSpec::new(
        job,
        "squares",
        params,
        &built.identity().digest().to_string(),
        Plan::new(nodes, n).unwrap(),
        Runtime {
            lease_ttl_ms: 1000,
            heartbeat_ms: 100,
            stall_timeout_ms: 2000,
            max_output_bytes: 1 << 16,
        },
    )
}

pub(crate) fn etcd_options() -> EtcdOptions {
    EtcdOptions::default()
        .op_timeout(Duration::from_millis(500))
        .connect_timeout(Duration::from_secs(2))
}

pub(crate) fn coordinator(etcd: &[String], store: &Path, quiet: bool) -> CoordinatorOptions {
    CoordinatorOptions {
        etcd: etcd.to_vec(),
        etcd_options: etcd_options(),
        store: store.to_owned(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertise: None,
        metrics: None,
        snapshot_every: Duration::from_millis(50),
        lease_ttl: Duration::from_secs(1),
        log: Log::new("coordinator", "test").quiet(quiet),
        check_output: OutputCheck::decodes::<u64>(),
    }
}

pub(crate) fn worker(etcd: &[String], job: &str, name: &str, quiet: bool) -> WorkerOptions {
    WorkerOptions {
        etcd: etcd.to_vec(),
        etcd_options: etcd_options(),
        job: job.to_owned(),
        name: name.to_owned(),
        job_timeout: Duration::from_secs(5),
        log: Log::new("worker", name).quiet(quiet),
    }
}
