//! The distributed mode with real processes: etcd, coordinators and workers, killed with
//! SIGKILL at chosen or random moments. Every scenario must end with the index
//! byte-identical to the embedded run's over the same corpus.
//!
//! Run with `bash .ci/cluster.sh` (it installs etcd and protoc, then runs
//! `cargo test -p snapstate-cli --features distributed-tests --test distributed`).

mod support;

use std::time::Duration;

use support::{figure, now_ms, Rng, Scenario};

const DONE_WITHIN: Duration = Duration::from_secs(90);

#[test]
fn workers_killed_at_random_moments_leave_the_index_identical() {
    for seed in 1..=3u64 {
        let mut rng = Rng(seed);
        let mut s = Scenario::new(1, &format!("kill-workers-{seed}"), 6_000, 60, 3, 40);
        let reference = s.reference();
        s.coordinator("c");
        for w in 0..3 {
            s.worker(&format!("w{w}"));
        }
        let mut live: Vec<String> = (0..3).map(|w| format!("w{w}")).collect();
        s.wait_line("c", "attached", Duration::from_secs(20));
        let mut detections = Vec::new();
        for k in 0..3 {
            std::thread::sleep(Duration::from_millis(150 + rng.below(400)));
            let victim = live.remove(rng.below(live.len() as u64) as usize);
            let node = s.node_of_worker(&victim);
            let killed_at = s.kill(&victim);
            let fresh = format!("r{seed}-{k}");
            s.worker(&fresh);
            live.push(fresh);
            if let Some(node) = node {
                detections.push((node, killed_at));
            }
        }
        s.wait_success("c", DONE_WITHIN);
        for w in live.clone() {
            s.wait_success(&w, Duration::from_secs(20));
        }
        assert!(
            s.index("c") == reference,
            "seed {seed}: the index differs from the embedded run's"
        );
        let log = s.log("c");
        for (node, t) in detections {
            // The node's rollback (or its claim ending, if the kill came between claims).
            if let Some(l) = log.iter().find(|l| {
                l.ms >= t
                    && l.text.contains(&format!("node {node}: "))
                    && l.text.contains("rolled back")
            }) {
                figure("worker_kill_to_rollback_ms", l.ms - t);
            }
        }
        figure("scenario_identical", format!("kill-workers seed {seed}"));
    }
}

#[test]
fn a_killed_leader_is_replaced_by_the_running_standby() {
    let mut s = Scenario::new(1, "kill-leader", 6_000, 60, 2, 40);
    let reference = s.reference();
    s.coordinator("a");
    std::thread::sleep(Duration::from_millis(200));
    s.coordinator("b");
    s.worker("w0");
    s.worker("w1");
    let leader = s.leader_of(&["a", "b"], Duration::from_secs(10));
    let standby = if leader == "a" { "b" } else { "a" };
    s.wait_line(&leader, "attached", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let killed = s.kill(&leader);
    let first = s.wait_line(standby, ": leader of job", Duration::from_secs(20));
    assert!(first >= killed);
    s.wait_success(standby, DONE_WITHIN);
    let snap = s
        .log(standby)
        .into_iter()
        .find(|l| l.ms >= first && l.text.contains(" committed (epoch"))
        .expect("the standby committed a snapshot");
    figure("leader_kill_to_standby_first_snapshot_ms", snap.ms - killed);
    for w in ["w0", "w1"] {
        s.wait_success(w, Duration::from_secs(20));
    }
    assert!(
        s.index(standby) == reference,
        "the index differs from the embedded run's"
    );
    // Snapshot ids keep growing across the two leaders.
    let ids = |name: &str| -> Vec<u64> {
        s.log(name)
            .iter()
            .filter(|l| l.text.contains(" committed (epoch"))
            .filter_map(|l| {
                l.text
                    .split_once("snapshot ")?
                    .1
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .collect()
    };
    let (old, new) = (ids(&leader), ids(standby));
    assert!(!old.is_empty() && !new.is_empty());
    assert!(
        new[0] > *old.iter().max().unwrap(),
        "snapshot ids went back: {old:?} then {new:?}"
    );
    figure("scenario_identical", "kill leader with standby");
}

#[test]
fn a_standby_started_after_the_leader_died_finishes_the_job() {
    let mut s = Scenario::new(1, "late-standby", 6_000, 60, 2, 40);
    let reference = s.reference();
    s.coordinator("a");
    s.worker("w0");
    s.worker("w1");
    s.wait_line("a", " committed (epoch", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(400));
    s.kill("a");
    std::thread::sleep(Duration::from_millis(300));
    s.coordinator("b");
    s.wait_success("b", DONE_WITHIN);
    assert!(
        s.index("b") == reference,
        "the index differs from the embedded run's"
    );
    assert!(
        s.log("b")
            .iter()
            .any(|l| l.text.contains("restored snapshot")),
        "{}",
        s.raw_log("b")
    );
    figure("scenario_identical", "kill leader, standby started after");
}

#[test]
fn the_job_survives_losing_the_raft_leader_of_a_three_member_etcd() {
    let mut s = Scenario::new(3, "etcd-member", 6_000, 60, 2, 40);
    let reference = s.reference();
    s.coordinator("a");
    s.coordinator("b");
    s.worker("w0");
    s.worker("w1");
    let leader = s.leader_of(&["a", "b"], Duration::from_secs(10));
    s.wait_line(&leader, " committed (epoch", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    let victim = s.etcd.raft_leader().expect("a raft leader");
    s.etcd.kill(victim);
    for c in ["a", "b"] {
        s.wait_success(c, DONE_WITHIN);
    }
    assert!(
        s.index("a") == reference && s.index("b") == reference,
        "an index differs"
    );
    figure("scenario_identical", "etcd raft leader killed");
}

#[test]
fn a_frozen_worker_loses_its_node_and_cannot_commit_when_it_thaws() {
    let mut s = Scenario::new(1, "frozen", 6_000, 60, 2, 40);
    // Silence alone would also fence it after the stall timeout; make the lease the
    // first to tell.
    s.job_flags
        .extend(["--stall-timeout".to_owned(), "5000".to_owned()]);
    let reference = s.reference();
    s.coordinator("c");
    s.worker("w0");
    s.worker("w1");
    s.wait_line("c", "attached", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(400));
    let node = s.node_of_worker("w0").expect("w0 holds a node");
    let stopped = now_ms();
    assert!(s.proc("w0").signal("STOP"));
    // Its lease expires: the leader rolls its node back; another worker takes it.
    let needle = format!("node {node}: its owner key is gone");
    let rolled = s.wait_line("c", &needle, Duration::from_secs(10));
    figure("worker_freeze_to_rollback_ms", rolled - stopped);
    s.worker("w2");
    std::thread::sleep(Duration::from_millis(500));
    assert!(s.proc("w0").signal("CONT"));
    s.wait_success("c", DONE_WITHIN);
    assert!(
        s.index("c") == reference,
        "the index differs from the embedded run's"
    );
    // The thawed worker learnt it had lost its claim, whichever way it heard first.
    let w0 = s.raw_log("w0");
    assert!(
        w0.contains(&format!("gave up node {node}")) || w0.contains("lease could not be renewed"),
        "{w0}"
    );
    figure("scenario_identical", "frozen worker");
}

#[test]
fn bad_input_exits_non_zero_with_a_message() {
    let s = Scenario::new(1, "bad", 1_000, 4, 1, 0);
    let eps = s.etcd.endpoints_arg();
    let run = |args: &[&str]| {
        let out = support::snapstate().args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Unreachable etcd, within its timeout.
    let port = snapstate_cluster::harness::free_port().unwrap().to_string();
    let dead = format!("http://127.0.0.1:{port}");
    let (ok, err) = run(&[
        "worker",
        "--etcd",
        &dead,
        "--job",
        "x",
        "--etcd-timeout",
        "1",
    ]);
    assert!(
        !ok && err.contains("cannot reach etcd") && err.contains(&port),
        "{err}"
    );
    let store = s.path("store");
    let (ok, err) = run(&[
        "coordinator",
        "--etcd",
        &dead,
        "--job",
        "x",
        "--store",
        store.to_str().unwrap(),
        "--etcd-timeout",
        "1",
    ]);
    assert!(!ok && err.contains("cannot reach etcd"), "{err}");
    // A job nobody started.
    let (ok, err) = run(&[
        "worker",
        "--etcd",
        &eps,
        "--job",
        "nobody",
        "--job-timeout",
        "1",
    ]);
    assert!(!ok && err.contains("no job named \"nobody\""), "{err}");
    // A job started by another build.
    let spec = r#"{"format":1,"protocol":1,"version":"0.0.0-elsewhere","job":"old","kind":"snapstate-search-index","params":{"input":null,"docs":10,"corpus_seed":1,"shards":1,"slow_ms":0},"identity":"x","plan":{"nodes":1,"subtasks":1},"runtime":{"lease_ttl_ms":1000,"heartbeat_ms":100,"stall_timeout_ms":1000,"max_output_bytes":1000}}"#;
    let st = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", &eps, "put", "/snapstate/jobs/old/spec", spec])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let (ok, err) = run(&["worker", "--etcd", &eps, "--job", "old"]);
    assert!(
        !ok && err.contains("0.0.0-elsewhere") && err.contains("same snapstate build"),
        "{err}"
    );
    // A second, different job under a name in use.
    let (ok, err) = run(&[
        "coordinator",
        "--etcd",
        &eps,
        "--job",
        "old",
        "--store",
        store.to_str().unwrap(),
        "--docs",
        "20",
    ]);
    assert!(!ok && err.contains("different job named \"old\""), "{err}");
}

/// Distributed mode (a coordinator and 2 worker processes on loopback, no failures)
/// against the embedded mode with 2 workers, on the default corpus; rounds interleaved,
/// medians compared. A measurement, so ignored by default:
/// `cargo test --release -p snapstate-cli --features distributed-tests --test distributed -- --ignored --nocapture overhead`
#[test]
#[ignore = "a measurement: run it with --ignored --nocapture"]
fn overhead_against_the_embedded_mode() {
    let rounds = 5;
    let mut s = Scenario::new(1, "overhead", 40_000, 256, 2, 0);
    // The embedded default snapshot interval, for both.
    let every = s
        .job_flags
        .iter()
        .position(|f| f == "--snapshot-every")
        .unwrap();
    s.job_flags[every + 1] = "250".into();
    let (mut embedded, mut distributed) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let t = std::time::Instant::now();
        let st = support::snapstate()
            .arg("run")
            .args(&s.job_flags)
            .args(["--failure-rate", "0", "-q", "-o"])
            .arg(s.path(&format!("emb-{r}")))
            .status()
            .unwrap();
        assert!(st.success());
        embedded.push(t.elapsed().as_secs_f64());
        s.job = format!("overhead-{r}");
        let t = std::time::Instant::now();
        let c = format!("c{r}");
        s.coordinator(&c);
        s.worker(&format!("w{r}a"));
        s.worker(&format!("w{r}b"));
        s.wait_success(&c, DONE_WITHIN);
        distributed.push(t.elapsed().as_secs_f64());
        assert!(
            s.index(&c)
                == std::fs::read(s.path(&format!("emb-{r}")).join("index.snapidx")).unwrap()
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (e, d) = (
        median(&mut embedded.clone()),
        median(&mut distributed.clone()),
    );
    figure(
        "overhead_embedded_s",
        format!("{e:.3} (rounds {embedded:.3?})"),
    );
    figure(
        "overhead_distributed_s",
        format!("{d:.3} (rounds {distributed:.3?})"),
    );
    figure("overhead_ratio", format!("{:.2}", d / e));
}
