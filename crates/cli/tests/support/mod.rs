//! Real processes for the distributed tests: an etcd cluster, `snapstate coordinator`s
//! and `snapstate worker`s with their stderr in log files, all killed on drop; the
//! embedded run's index as the reference; and the timestamps of log lines.

#![allow(dead_code)] // Each test file uses a part.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use snapstate_cluster::harness::{ChildGuard, EtcdCluster};

pub(crate) fn snapstate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snapstate"))
}

/// One scenario: its etcd, its directory, its job flags and its processes.
pub(crate) struct Scenario {
    pub(crate) etcd: EtcdCluster,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) job: String,
    pub(crate) job_flags: Vec<String>,
    pub(crate) procs: Vec<(String, ChildGuard)>,
    pub(crate) ttl: u64,
}

/// One log line: wall-clock milliseconds and text.
#[derive(Clone, Debug)]
pub(crate) struct Line {
    pub(crate) ms: u128,
    pub(crate) text: String,
}

pub(crate) fn now_ms() -> u128 {
    snapstate_cluster::Log::now_ms()
}

impl Scenario {
    /// A scenario on `members` etcd members, indexing `docs` generated documents in
    /// `shards` shards on `nodes` nodes, each shard taking at least `slow_ms`.
    pub(crate) fn new(
        members: usize,
        job: &str,
        docs: u32,
        shards: u32,
        nodes: u32,
        slow_ms: u64,
    ) -> Self {
        Self::new_on("127.0.0.1", members, job, docs, shards, nodes, slow_ms)
    }

    /// Like `new`, with etcd's clients on `host` (a test namespace's root-side address).
    pub(crate) fn new_on(
        host: &str,
        members: usize,
        job: &str,
        docs: u32,
        shards: u32,
        nodes: u32,
        slow_ms: u64,
    ) -> Self {
        let etcd = EtcdCluster::start_on(members, host)
            .expect("etcd starts (apt-get install etcd-server etcd-client)");
        let job_flags = vec![
            "--docs".into(),
            docs.to_string(),
            "--shards".into(),
            shards.to_string(),
            "--workers".into(),
            nodes.to_string(),
            "--slow".into(),
            slow_ms.to_string(),
            "--snapshot-every".into(),
            "50".into(),
        ];
        Scenario {
            etcd,
            dir: tempfile::tempdir().unwrap(),
            job: job.into(),
            job_flags,
            procs: Vec::new(),
            ttl: 1,
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The index of the embedded run over the same corpus and nodes, no faults.
    pub(crate) fn reference(&self) -> Vec<u8> {
        let out = self.path("reference");
        let mut flags = self.job_flags.clone();
        // The delay does not change the index; skip it for the reference.
        let slow = flags.iter().position(|f| f == "--slow").unwrap();
        flags[slow + 1] = "0".into();
        let st = snapstate()
            .arg("run")
            .args(&flags)
            .args(["--failure-rate", "0", "-q", "-o"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(st.success(), "the embedded reference run failed");
        std::fs::read(out.join("index.snapidx")).unwrap()
    }

    pub(crate) fn spawn(&mut self, name: &str, mut cmd: Command) {
        let log = std::fs::File::create(self.path(&format!("{name}.log"))).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.procs.push((name.into(), ChildGuard::new(name, child)));
    }

    /// The command line of a coordinator named `name` (its index goes to `<name>-out`).
    pub(crate) fn coordinator_cmd(&self, name: &str) -> Command {
        self.coordinator_args(name, snapstate())
    }

    /// Adds a coordinator's arguments to `c` (a plain command, or one run in a namespace).
    pub(crate) fn coordinator_args(&self, name: &str, mut c: Command) -> Command {
        c.arg("coordinator")
            .args(["--etcd", &self.etcd.endpoints_arg(), "--job", &self.job])
            .arg("--store")
            .arg(self.path("store"))
            .args(["--lease-ttl", &self.ttl.to_string()])
            .args(&self.job_flags)
            .arg("-o")
            .arg(self.path(&format!("{name}-out")));
        c
    }

    pub(crate) fn coordinator(&mut self, name: &str) {
        let cmd = self.coordinator_cmd(name);
        self.spawn(name, cmd);
    }

    pub(crate) fn worker(&mut self, name: &str) {
        let c = self.worker_args(name, snapstate());
        self.spawn(name, c);
    }

    /// Adds a worker's arguments to `c` (a plain command, or one run in a namespace).
    pub(crate) fn worker_args(&self, name: &str, mut c: Command) -> Command {
        let eps = self.etcd.endpoints_arg();
        c.arg("worker")
            .args(["--etcd", &eps, "--job", &self.job, "--name", name]);
        c
    }

    pub(crate) fn proc(&mut self, name: &str) -> &mut ChildGuard {
        &mut self
            .procs
            .iter_mut()
            .find(|(n, _)| n == name)
            .expect("a process of that name")
            .1
    }

    pub(crate) fn kill(&mut self, name: &str) -> u128 {
        let t = now_ms();
        self.proc(name).kill();
        t
    }

    /// The log of process `name`, parsed.
    pub(crate) fn log(&self, name: &str) -> Vec<Line> {
        let text = std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let rest = l.strip_prefix('[')?;
                let (ms, text) = rest.split_once("] ")?;
                Some(Line {
                    ms: ms.parse().ok()?,
                    text: text.to_owned(),
                })
            })
            .collect()
    }

    pub(crate) fn raw_log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default()
    }

    /// Waits until a line of `name`'s log contains `needle`; its time.
    pub(crate) fn wait_line(&self, name: &str, needle: &str, timeout: Duration) -> u128 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.log(name).into_iter().find(|l| l.text.contains(needle)) {
                return l.ms;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never logged {needle:?}; its log:\n{}",
                self.raw_log(name)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for `name` to exit successfully.
    pub(crate) fn wait_success(&mut self, name: &str, timeout: Duration) {
        let status = self.proc(name).wait_timeout(timeout);
        let log = self.raw_log(name);
        match status {
            Some(s) => assert!(s.success(), "{name} failed ({s}); its log:\n{log}"),
            None => panic!("{name} did not finish in {timeout:?}; its log:\n{log}"),
        }
    }

    /// The index coordinator `name` wrote.
    pub(crate) fn index(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(&format!("{name}-out")).join("index.snapidx")).unwrap_or_else(|e| {
            panic!(
                "{name} wrote no index ({e}); its log:\n{}",
                self.raw_log(name)
            )
        })
    }

    /// Which of `names` logged that it leads.
    pub(crate) fn leader_of(&self, names: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            for n in names {
                if self
                    .log(n)
                    .iter()
                    .any(|l| l.text.contains(": leader of job"))
                {
                    return (*n).to_owned();
                }
            }
            assert!(Instant::now() < deadline, "no coordinator became leader");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The node worker `name` holds now (its last claim), if any.
    pub(crate) fn node_of_worker(&self, name: &str) -> Option<usize> {
        self.log(name).iter().rev().find_map(|l| {
            let rest = l.text.split_once("claimed node ")?.1;
            rest.split_whitespace().next()?.parse().ok()
        })
    }
}

/// A small deterministic generator for "random moments" that replay by seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
}

/// Prints a figure line the CI log keeps (`FIGURE name value`).
pub(crate) fn figure(name: &str, value: impl std::fmt::Display) {
    println!("FIGURE {name} {value}");
}
