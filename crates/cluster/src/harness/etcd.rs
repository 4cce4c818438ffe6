//! Real `etcd` processes for tests: 1 or 3 members on free loopback ports, each with its
//! own temporary data directory, killed and cleaned up on drop (on a panic too).

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Why a test cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A program could not be started (is it installed?).
    #[error("cannot start {program}: {source}; install it with `apt-get install -y etcd-server etcd-client`")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The members did not become healthy in time.
    #[error("etcd did not become healthy within {0:?}; its log:\n{1}")]
    Unhealthy(Duration, String),
    /// A file or directory could not be made.
    #[error("harness i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// One etcd member.
#[derive(Debug)]
struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// A running etcd cluster of real processes.
///
/// Uses its own ports (never 2379), its own data directories under one temporary
/// directory, and short raft timings (`--heartbeat-interval 10 --election-timeout 100`)
/// so that a 1 s lease can be granted. Every member is killed and the directory removed
/// when the value is dropped.
///
/// # Examples
///
/// ```no_run
/// use snapstate_cluster::harness::EtcdCluster;
///
/// let etcd = EtcdCluster::start(1)?;
/// println!("etcd at {}", etcd.endpoints().join(","));
/// # Ok::<(), snapstate_cluster::harness::HarnessError>(())
/// ```
#[derive(Debug)]
pub struct EtcdCluster {
    members: Vec<Member>,
    token: String,
    dir: TempDir,
    /// The address clients reach the members at (127.0.0.1, or a test namespace's
    /// veth address), besides loopback.
    host: String,
}

/// A loopback port that was free a moment ago (bound to port 0, then released).
///
/// # Errors
///
/// If no socket can be bound on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl EtcdCluster {
    /// Starts `members` members (1 or 3 are the useful sizes) and waits until every one
    /// answers `endpoint health`.
    ///
    /// # Errors
    ///
    /// [`HarnessError`] if etcd is not installed or does not become healthy in 20 s.
    pub fn start(members: usize) -> Result<Self, HarnessError> {
        Self::start_on(members, "127.0.0.1")
    }

    /// Like [`start`](Self::start), with the client URLs also on `host` (an address of
    /// this machine, such as the root side of a test namespace's veth pair), which is
    /// then what [`endpoints`](Self::endpoints) names.
    ///
    /// # Errors
    ///
    /// As for [`start`](Self::start).
    pub fn start_on(members: usize, host: &str) -> Result<Self, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix("snapstate-etcd-")
            .tempdir()?;
        let mut list = Vec::new();
        for i in 0..members {
            let name = format!("m{i}");
            let data_dir = dir.path().join(&name);
            let log = dir.path().join(format!("{name}.log"));
            list.push(Member {
                name,
                client_port: free_port()?,
                peer_port: free_port()?,
                data_dir,
                log,
                child: None,
            });
        }
        let token = format!(
            "snapstate-test-{}-{}",
            std::process::id(),
            dir.path().display()
        );
        let mut cluster = EtcdCluster {
            members: list,
            token,
            dir,
            host: host.to_owned(),
        };
        for i in 0..members {
            cluster.spawn(i, "new")?;
        }
        cluster.wait_healthy(Duration::from_secs(20))?;
        Ok(cluster)
    }

    fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&mut self, i: usize, state: &str) -> Result<(), HarnessError> {
        let initial = self.initial_cluster();
        let m = &mut self.members[i];
        let log = File::options().create(true).append(true).open(&m.log)?;
        let mut client = format!("http://127.0.0.1:{}", m.client_port);
        let advertise = format!("http://{}:{}", self.host, m.client_port);
        if self.host != "127.0.0.1" {
            client = format!("{client},{advertise}");
        }
        let peer = format!("http://127.0.0.1:{}", m.peer_port);
        let child = Command::new("etcd")
            .arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(&m.data_dir)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &advertise])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &initial])
            .args(["--initial-cluster-state", state])
            .args(["--initial-cluster-token", &self.token])
            .args(["--heartbeat-interval", "10", "--election-timeout", "100"])
            .args(["--logger", "zap", "--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                program: "etcd".into(),
                source,
            })?;
        m.child = Some(child);
        Ok(())
    }

    /// The client URLs of every member, running or not.
    pub fn endpoints(&self) -> Vec<String> {
        (0..self.members.len()).map(|i| self.endpoint(i)).collect()
    }

    /// The client URLs joined with commas, as `--etcd` takes them.
    pub fn endpoints_arg(&self) -> String {
        self.endpoints().join(",")
    }

    /// Member `i`'s client URL.
    pub fn endpoint(&self, i: usize) -> String {
        format!("http://{}:{}", self.host, self.members[i].client_port)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the cluster has no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Member `i`'s process id, if it is running.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.members[i].child.as_ref().map(Child::id)
    }

    /// Kills member `i` with SIGKILL and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            // Killing fails only if it already exited; reaping then still works.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts member `i` (killed before) on its old data directory and ports.
    ///
    /// # Errors
    ///
    /// As for [`start`](Self::start).
    pub fn restart(&mut self, i: usize) -> Result<(), HarnessError> {
        self.kill(i);
        self.spawn(i, "existing")
    }

    /// Which member is the raft leader now, asked of the running members with etcdctl.
    pub fn raft_leader(&self) -> Option<usize> {
        for (i, m) in self.members.iter().enumerate() {
            if m.child.is_none() {
                continue;
            }
            let out = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &self.endpoint(i), "endpoint", "status"])
                .args(["--write-out", "fields", "--command-timeout", "1s"])
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let field = |name: &str| {
                text.lines()
                    .find(|l| l.starts_with(&format!("\"{name}\"")))
                    .and_then(|l| l.rsplit(':').next())
                    .map(|v| v.trim().to_owned())
            };
            if let (Some(id), Some(leader)) = (field("MemberID"), field("Leader")) {
                if id == leader {
                    return Some(i);
                }
            }
        }
        None
    }

    /// Waits until every running member answers `endpoint health`.
    ///
    /// # Errors
    ///
    /// [`HarnessError::Unhealthy`] with the members' logs after `timeout`.
    pub fn wait_healthy(&self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        let running: Vec<String> = (0..self.members.len())
            .filter(|&i| self.members[i].child.is_some())
            .map(|i| self.endpoint(i))
            .collect();
        loop {
            let ok = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &running.join(","), "endpoint", "health"])
                .args(["--command-timeout", "1s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|source| HarnessError::Spawn {
                    program: "etcdctl".into(),
                    source,
                })?
                .success();
            if ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Unhealthy(timeout, self.logs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The tail of every member's log, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for m in &self.members {
            let text = std::fs::read_to_string(&m.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            out.push_str(&format!("--- {} ---\n", m.name));
            for l in tail.into_iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }

    /// The directory holding the members' data and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
