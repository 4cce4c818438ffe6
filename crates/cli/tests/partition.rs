//! Silent partitions made with network namespaces and an nft drop rule (root only:
//! `bash .ci/cluster.sh` runs these with `--include-ignored`). Every namespace and
//! process is removed on drop, on failure too; only loopback and the namespaces made
//! here are addressed. The processes talk across the veth pair, not loopback, so every
//! link is mutual TLS (etcd too): without certificates they would refuse to start.

mod support;

use std::time::Duration;

use snapstate_cluster::harness::NetNs;
use support::{figure, now_ms, Scenario};

const DONE_WITHIN: Duration = Duration::from_secs(90);

#[test]
#[ignore = "needs root (network namespaces): run by .ci/cluster.sh"]
fn a_partitioned_worker_loses_its_node_which_is_redone_and_it_cannot_commit() {
    assert!(snapstate_cluster::harness::is_root(), "needs root");
    let ns = NetNs::new(0).unwrap();
    let mut s = Scenario::new_tls(ns.host_ip(), 1, "part-worker", 6_000, 60, 2, 40);
    s.job_flags
        .extend(["--stall-timeout".to_owned(), "5000".to_owned()]);
    let reference = s.reference();
    let listen = format!("{}:0", ns.host_ip());
    let mut c = s.coordinator_cmd("c");
    c.args(["--listen", &listen]);
    s.spawn("c", c);
    // A zombie: it ignores its own fencing, and sends its last report again behind its
    // Hello whenever it reconnects.
    let mut inside = s.worker_args("cut", ns.command(env!("CARGO_BIN_EXE_snapstate")));
    inside.arg("--test-zombie");
    s.spawn("cut", inside);
    s.worker("w1");
    s.wait_line("c", "attached", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(400));
    let node = s
        .node_of_worker("cut")
        .expect("the namespaced worker holds a node");
    let cut_at = now_ms();
    ns.partition().unwrap();
    let rolled = s.wait_line(
        "c",
        &format!("node {node}: its owner key is gone"),
        Duration::from_secs(10),
    );
    figure("worker_partition_to_rollback_ms", rolled - cut_at);
    // Another worker redoes the node.
    s.wait_line(
        "c",
        &format!("node {node}: w1 attached"),
        Duration::from_secs(20),
    );
    // Heal at once, while the job still runs, so the zombie can come back to it.
    let healed = now_ms();
    ns.heal().unwrap();
    // After the heal the zombie delivers a late report for its old claim: refused.
    let late = s.wait_line(
        "cut",
        &format!("zombie: sending a late report of node {node}"),
        Duration::from_secs(15),
    );
    assert!(late >= healed);
    let refused = s.wait_line(
        "c",
        &format!("refused cut (node {node}, epoch"),
        Duration::from_secs(15),
    );
    assert!(refused >= healed);
    let line = s
        .log("c")
        .into_iter()
        .find(|l| l.text.contains(&format!("refused cut (node {node}, epoch")))
        .unwrap();
    // Refused at the claim check of its new stream's Hello, or (if its old connection
    // outlived the cut) by the progress table, its session being fenced.
    assert!(
        line.text.contains("claim in etcd is epoch")
            || line.text.contains("has no claim")
            || line.text.contains("no longer current"),
        "{}",
        line.text
    );
    figure("zombie_late_report_refused", &line.text);
    s.wait_success("c", DONE_WITHIN);
    assert!(
        s.index("c") == reference,
        "the index differs from the embedded run's"
    );
    figure(
        "scenario_identical",
        "partitioned worker, late report refused",
    );
}

#[test]
#[ignore = "needs root (network namespaces): run by .ci/cluster.sh"]
fn a_partitioned_leader_fences_itself_before_the_standby_takes_over() {
    assert!(snapstate_cluster::harness::is_root(), "needs root");
    let ns = NetNs::new(1).unwrap();
    let mut s = Scenario::new_tls(ns.host_ip(), 1, "part-leader", 6_000, 60, 2, 40);
    // The cut-off coordinator listens inside the namespace: its certificate names that.
    s.sans.push(ns.ns_ip().to_owned());
    let reference = s.reference();
    let inside = format!("{}:0", ns.ns_ip());
    let mut cut = s.coordinator_args("cut", ns.command(env!("CARGO_BIN_EXE_snapstate")));
    cut.args(["--listen", &inside]);
    s.spawn("cut", cut);
    s.wait_line("cut", ": leader of job", Duration::from_secs(10));
    let mut standby = s.coordinator_cmd("b");
    standby.args(["--listen", &format!("{}:0", ns.host_ip())]);
    s.spawn("b", standby);
    s.worker("w0");
    s.worker("w1");
    s.wait_line("cut", " committed (epoch", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    let cut_at = now_ms();
    ns.partition().unwrap();
    let fenced = s.wait_line("cut", "lost the leadership", Duration::from_secs(10));
    let took_over = s.wait_line("b", ": leader of job", Duration::from_secs(10));
    figure("leader_partition_to_self_fence_ms", fenced - cut_at);
    figure("leader_partition_to_standby_leader_ms", took_over - cut_at);
    assert!(
        fenced <= took_over,
        "the cut-off leader still acted when the standby took over"
    );
    std::thread::sleep(Duration::from_millis(500));
    ns.heal().unwrap();
    s.wait_success("b", DONE_WITHIN);
    s.wait_success("cut", DONE_WITHIN);
    assert!(
        s.index("b") == reference,
        "the index differs from the embedded run's"
    );
    assert!(s.index("cut") == reference, "the old leader's copy differs");
    figure("scenario_identical", "partitioned leader");
}
