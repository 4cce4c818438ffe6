//! [`NetNs`]: a network namespace joined to the root namespace by a veth pair, for
//! partition tests (root only). An nft rule set inside it drops every packet (a silent
//! partition); removing it heals. Dropping the value deletes the namespace and the
//! veth pair, so nothing outlives the test.

use std::process::{Command, Stdio};

use super::etcd::HarnessError;

/// A test network namespace `name` with `host_ip` on the root side of its veth pair
/// and `ns_ip` inside.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    veth: String,
    host_ip: String,
    ns_ip: String,
}

fn run(args: &[&str]) -> Result<(), HarnessError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|source| HarnessError::Spawn {
            program: args[0].into(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(HarnessError::Io(std::io::Error::other(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))))
    }
}

/// Whether this process runs as root (what namespaces and nft need).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl NetNs {
    /// Makes namespace number `k` (0..64) of this process: `10.213.<n>.1` on the root
    /// side, `10.213.<n>.2` inside, with `n` derived from the process id and `k`.
    ///
    /// # Errors
    ///
    /// [`HarnessError`] if `ip` fails (not root? `apt-get install iproute2`).
    pub fn new(k: u32) -> Result<Self, HarnessError> {
        let pid = std::process::id();
        let n = (pid.wrapping_mul(7).wrapping_add(k * 37)) % 250 + 1;
        let ns = NetNs {
            name: format!("snapstate-{pid}-{k}"),
            veth: format!("ssv{}x{k}", pid % 100_000),
            host_ip: format!("10.213.{n}.1"),
            ns_ip: format!("10.213.{n}.2"),
        };
        let peer = format!("{}p", ns.veth);
        run(&["ip", "netns", "add", &ns.name])?;
        // From here on, Drop cleans up whatever exists.
        run(&[
            "ip", "link", "add", &ns.veth, "type", "veth", "peer", "name", &peer,
        ])?;
        run(&["ip", "link", "set", &peer, "netns", &ns.name])?;
        run(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", ns.host_ip),
            "dev",
            &ns.veth,
        ])?;
        run(&["ip", "link", "set", &ns.veth, "up"])?;
        ns.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", ns.ns_ip),
            "dev",
            &peer,
        ])?;
        ns.exec_ok(&["ip", "link", "set", &peer, "up"])?;
        ns.exec_ok(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    fn exec_ok(&self, args: &[&str]) -> Result<(), HarnessError> {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        run(&full)
    }

    /// The root side's address (where root-namespace servers are reached from inside).
    pub fn host_ip(&self) -> &str {
        &self.host_ip
    }

    /// The address inside the namespace.
    pub fn ns_ip(&self) -> &str {
        &self.ns_ip
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Cuts the namespace off: every packet in or out is dropped, silently.
    ///
    /// # Errors
    ///
    /// [`HarnessError`] if nft fails (`apt-get install nftables`).
    pub fn partition(&self) -> Result<(), HarnessError> {
        self.exec_ok(&["nft", "add", "table", "inet", "snapcut"])?;
        for (chain, hook) in [("in", "input"), ("out", "output")] {
            self.exec_ok(&[
                "nft",
                "add",
                "chain",
                "inet",
                "snapcut",
                chain,
                &format!("{{ type filter hook {hook} priority 0 ; policy accept ; }}"),
            ])?;
            // Loopback inside the namespace keeps working; the veth does not.
            self.exec_ok(&[
                "nft",
                "add",
                "rule",
                "inet",
                "snapcut",
                chain,
                "ip",
                "daddr",
                "!=",
                "127.0.0.0/8",
                "drop",
            ])?;
        }
        Ok(())
    }

    /// Heals the partition.
    ///
    /// # Errors
    ///
    /// [`HarnessError`] if nft fails.
    pub fn heal(&self) -> Result<(), HarnessError> {
        self.exec_ok(&["nft", "delete", "table", "inet", "snapcut"])
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting the namespace removes its end of the veth pair, and with it ours; the
        // explicit delete covers a namespace that was never fully set up.
        let _ = run(&["ip", "netns", "del", &self.name]);
        let _ = run(&["ip", "link", "del", &self.veth]);
    }
}
