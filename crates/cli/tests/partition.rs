//! Silent partitions made with network namespaces and an nft drop rule (root only:
//! `bash .ci/cluster.sh` runs these with `--include-ignored`). Every namespace and
//! process is removed on drop, on failure too; only loopback and the namespaces made
//! here are addressed.

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
    let mut s = Scenario::new_on(ns.host_ip(), 1, "part-worker", 6_000, 60, 2, 40);
    s.job_flags
        .extend(["--stall-timeout".to_owned(), "5000".to_owned()]);
    let reference = s.reference();
    let listen = format!("{}:0", ns.host_ip());
    let mut c = s.coordinator_cmd("c");
    c.args(["--listen", &listen]);
    s.spawn("c", c);
    let inside = s.worker_args("cut", ns.command(env!("CARGO_BIN_EXE_snapstate")));
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
    std::thread::sleep(Duration::from_millis(1500));
    ns.heal().unwrap();
    s.wait_success("c", DONE_WITHIN);
    assert!(
        s.index("c") == reference,
        "the index differs from the embedded run's"
    );
    // The cut-off worker fenced itself: its lease could not be renewed.
    let cut = s.raw_log("cut");
    assert!(
        cut.contains("lease") && cut.contains(&format!("gave up node {node}")),
        "{cut}"
    );
    figure("scenario_identical", "partitioned worker");
}

#[test]
#[ignore = "needs root (network namespaces): run by .ci/cluster.sh"]
fn a_partitioned_leader_fences_itself_before_the_standby_takes_over() {
    assert!(snapstate_cluster::harness::is_root(), "needs root");
    let ns = NetNs::new(1).unwrap();
    let mut s = Scenario::new_on(ns.host_ip(), 1, "part-leader", 6_000, 60, 2, 40);
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
