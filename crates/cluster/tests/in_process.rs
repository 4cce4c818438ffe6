//! Coordinators and workers as tasks of one test process, against real etcd: the job
//! completes with exactly the outputs of a plain run, a standby takes over, a zombie's
//! late report is refused, and bad input gives a clear error.

mod support;

use std::time::Duration;

use snapstate_cluster::etcd::{current_leader, ClaimOutcome, Etcd, JobControl, Lease};
use snapstate_cluster::harness::EtcdCluster;
use snapstate_cluster::proto::leader_message::Body;
use snapstate_cluster::wire::build;
use snapstate_cluster::{
    decode_outputs, run_coordinator, run_worker, ClusterError, JobKeys, Limits,
};
use support::*;
use tokio_stream::wrappers::ReceiverStream;

fn squares(n: usize) -> Vec<u64> {
    (0..n as u64).map(|k| k * k).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_complete_the_job_and_the_standby_finds_it_complete() {
    let etcd = EtcdCluster::start(1).unwrap();
    let eps = etcd.endpoints();
    let store = tempfile::tempdir().unwrap();
    let spec = spec("basic", 40, 3, 5);
    let leader = tokio::spawn(run_coordinator(
        coordinator(&eps, store.path(), true),
        spec.clone(),
    ));
    let standby = tokio::spawn(run_coordinator(
        coordinator(&eps, store.path(), true),
        spec.clone(),
    ));
    let w1 = tokio::spawn(run_worker(worker(&eps, "basic", "w1", true), SquaresKind));
    let w2 = tokio::spawn(run_worker(worker(&eps, "basic", "w2", true), SquaresKind));
    let a = leader.await.unwrap().unwrap();
    let b = standby.await.unwrap().unwrap();
    assert_eq!(decode_outputs::<u64>(&a.outputs).unwrap(), squares(40));
    assert_eq!(a.outputs, b.outputs);
    assert_eq!(
        u32::from(a.led_to_completion) + u32::from(b.led_to_completion),
        1
    );
    let (o1, o2) = (w1.await.unwrap().unwrap(), w2.await.unwrap().unwrap());
    assert!(o1.subtasks_run + o2.subtasks_run >= 40);
    // A coordinator started after completion reads the outputs back, no workers needed.
    let late = run_coordinator(coordinator(&eps, store.path(), true), spec)
        .await
        .unwrap();
    assert_eq!(late.outputs, a.outputs);
    assert!(!late.led_to_completion);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_zombie_report_is_refused_and_its_node_is_redone() {
    let etcd = EtcdCluster::start(1).unwrap();
    let eps = etcd.endpoints();
    let store = tempfile::tempdir().unwrap();
    let spec = spec("zombie", 8, 2, 1);
    let coord = tokio::spawn(run_coordinator(
        coordinator(&eps, store.path(), true),
        spec.clone(),
    ));
    let client = Etcd::connect(&eps, etcd_options()).await.unwrap();
    let ctl = JobControl::new(client.clone(), JobKeys::new("zombie").unwrap());
    let keys = ctl.keys().clone();
    let leader = loop {
        if let Some(l) = current_leader(&client, &keys.election()).await.unwrap() {
            break l;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let spec_rev = loop {
        if let Some(v) = ctl.spec().await.unwrap() {
            break v.mod_revision;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // A hand-made worker claims node 0 and reports position 0.
    let lease = Lease::grant(&client, Duration::from_secs(1)).await.unwrap();
    let ClaimOutcome::Claimed(claim) = ctl.claim(0, lease.id(), "zombie").await.unwrap() else {
        panic!("node 0 is free");
    };
    let mut rpc = snapstate_cluster::net::connect(&leader.value, Limits::new(1 << 16))
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tx.send(build::hello(
        "zombie",
        spec_rev,
        leader.epoch,
        0,
        claim.epoch,
        "zombie",
    ))
    .await
    .unwrap();
    let mut inbound = rpc
        .work(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let first = inbound.message().await.unwrap().unwrap();
    assert!(
        matches!(first.body, Some(Body::Assign(ref a)) if a.position == 0),
        "{first:?}"
    );
    tx.send(build::report(
        0,
        claim.epoch,
        0,
        snapstate_cluster::encode_output(0, &0u64).unwrap(),
    ))
    .await
    .unwrap();
    // Its lease expires (a frozen process); then it wakes up and reports again.
    lease.abandon();
    let fenced = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match inbound.message().await {
                Ok(Some(m)) => {
                    if let Some(Body::Fenced(f)) = m.body {
                        return f.reason;
                    }
                }
                _ => return "stream closed".to_owned(),
            }
        }
    })
    .await
    .expect("the leader must fence the lapsed claim");
    assert!(
        fenced.contains("node 0") || fenced.contains("closed"),
        "{fenced}"
    );
    // A wrong output: were it committed, the job's outputs would differ.
    let _ = tx.send(build::report(0, claim.epoch, 1, vec![99])).await;
    // Real workers finish the job; node 0 is redone by one of them.
    let w = tokio::spawn(run_worker(worker(&eps, "zombie", "w", true), SquaresKind));
    let out = coord.await.unwrap().unwrap();
    assert_eq!(decode_outputs::<u64>(&out.outputs).unwrap(), squares(8));
    w.await.unwrap().unwrap();
    // The zombie's claim was replaced by a newer one.
    assert!(
        ctl.owner(0).await.unwrap().is_none(),
        "node 0 is done: no owner left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_messages_end_their_stream_not_the_leader() {
    let etcd = EtcdCluster::start(1).unwrap();
    let eps = etcd.endpoints();
    let store = tempfile::tempdir().unwrap();
    let coord = tokio::spawn(run_coordinator(
        coordinator(&eps, store.path(), true),
        spec("garbage", 6, 2, 1),
    ));
    let client = Etcd::connect(&eps, etcd_options()).await.unwrap();
    let ctl = JobControl::new(client.clone(), JobKeys::new("garbage").unwrap());
    let (leader, spec_rev) = loop {
        let l = current_leader(&client, &ctl.keys().election())
            .await
            .unwrap();
        let s = ctl.spec().await.unwrap();
        if let (Some(l), Some(s)) = (l, s) {
            break (l, s.mod_revision);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let lease = Lease::grant(&client, Duration::from_secs(2)).await.unwrap();
    let ClaimOutcome::Claimed(mut claim) = ctl.claim(1, lease.id(), "bad").await.unwrap() else {
        panic!("node 1 is free");
    };
    // Each of these ends its stream with a reason; the leader serves the next one.
    let wants = [
        "does not decode",
        "expected 0",
        "another claim",
        "over the job's limit",
        "second Hello",
        "empty message",
    ];
    for want in wants {
        let e = claim.epoch;
        let msgs = match want {
            "does not decode" => vec![build::report(1, e, 0, vec![0xff; 11])],
            "expected 0" => vec![build::report(1, e, 5, vec![1])],
            "another claim" => vec![build::report(0, e, 0, vec![1])],
            "over the job's limit" => vec![build::report(1, e, 0, vec![0; (1 << 16) + 1])],
            "second Hello" => vec![build::hello("garbage", spec_rev, leader.epoch, 1, e, "bad")],
            _ => vec![snapstate_cluster::proto::WorkerMessage { body: None }],
        };
        let mut rpc = snapstate_cluster::net::connect(&leader.value, Limits::new(1 << 20))
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tx.send(build::hello(
            "garbage",
            spec_rev,
            leader.epoch,
            1,
            claim.epoch,
            "bad",
        ))
        .await
        .unwrap();
        let mut inbound = rpc
            .work(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let first = inbound.message().await.unwrap().unwrap();
        assert!(matches!(first.body, Some(Body::Assign(_))), "{first:?}");
        for m in msgs {
            tx.send(m).await.unwrap();
        }
        let reason = loop {
            match inbound.message().await {
                Ok(Some(m)) => {
                    if let Some(Body::Fenced(f)) = m.body {
                        break f.reason;
                    }
                }
                Ok(None) => break "closed".to_owned(),
                // The oversized message fails in the leader's codec, before any check.
                Err(status) => break status.message().to_owned(),
            }
        };
        assert!(
            reason.contains(want) || (want.contains("limit") && reason.contains("message length")),
            "{want:?}: {reason}"
        );
        // The leader revokes the claim of a stream it ended; claim the node again.
        drop(tx);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ctl.owner(1).await.unwrap() == Some(claim.epoch)
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let ClaimOutcome::Claimed(c) = ctl.claim(1, lease.id(), "bad").await.unwrap() else {
            panic!("node 1 is free again");
        };
        claim = c;
    }
    // The leader is still there: a real worker completes the job, outputs intact.
    drop(lease);
    let w = tokio::spawn(run_worker(worker(&eps, "garbage", "w", true), SquaresKind));
    let out = coord.await.unwrap().unwrap();
    assert_eq!(decode_outputs::<u64>(&out.outputs).unwrap(), squares(6));
    w.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_message() {
    let etcd = EtcdCluster::start(1).unwrap();
    let eps = etcd.endpoints();
    let store = tempfile::tempdir().unwrap();
    // A worker for a job nobody started.
    let mut w = worker(&eps, "nobody", "w", true);
    w.job_timeout = Duration::from_millis(300);
    let e = run_worker(w, SquaresKind).await.unwrap_err();
    assert!(
        matches!(e, ClusterError::Spec(_)) && e.to_string().contains("no job named"),
        "{e}"
    );
    // A spec from another build.
    let client = Etcd::connect(&eps, etcd_options()).await.unwrap();
    let mut other = spec("other-build", 4, 1, 0);
    other.version = "0.0.0-elsewhere".into();
    let mut kv = client.stream_client().1;
    kv.put(
        JobKeys::new("other-build").unwrap().spec(),
        other.to_json(),
        None,
    )
    .await
    .unwrap();
    let e = run_worker(worker(&eps, "other-build", "w", true), SquaresKind)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("0.0.0-elsewhere"), "{e}");
    // A second, different job under a name in use.
    let first = spec("taken", 4, 1, 0);
    let coord = tokio::spawn(run_coordinator(
        coordinator(&eps, store.path(), true),
        first,
    ));
    let keys = JobKeys::new("taken").unwrap();
    while JobControl::new(client.clone(), keys.clone())
        .spec()
        .await
        .unwrap()
        .is_none()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let e = run_coordinator(
        coordinator(&eps, store.path(), true),
        spec("taken", 5, 1, 0),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("different job named \"taken\""),
        "{e}"
    );
    coord.abort();
    // An unreachable etcd.
    let port = snapstate_cluster::harness::free_port().unwrap();
    let e = run_coordinator(
        coordinator(&[format!("http://127.0.0.1:{port}")], store.path(), true),
        spec("x", 1, 1, 0),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ClusterError::Unreachable { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_subtask_is_taken_for_a_stalled_worker_and_redone() {
    let etcd = EtcdCluster::start(1).unwrap();
    let eps = etcd.endpoints();
    let store = tempfile::tempdir().unwrap();
    // Subtask 5 hangs 4 s without a heartbeat, once; the stall timeout is 2 s and the
    // lease (kept alive by the worker process) never expires.
    let spec = spec_with(
        "hung",
        serde_json::json!({"n": 12, "delay_ms": 2, "hang": 5}),
        2,
    );
    let coord = tokio::spawn(run_coordinator(coordinator(&eps, store.path(), true), spec));
    let w1 = tokio::spawn(run_worker(worker(&eps, "hung", "w1", true), SquaresKind));
    let w2 = tokio::spawn(run_worker(worker(&eps, "hung", "w2", true), SquaresKind));
    let out = coord.await.unwrap().unwrap();
    assert_eq!(decode_outputs::<u64>(&out.outputs).unwrap(), squares(12));
    let (o1, o2) = (w1.await.unwrap().unwrap(), w2.await.unwrap().unwrap());
    assert!(
        support::HUNG.load(std::sync::atomic::Ordering::SeqCst),
        "subtask 5 never hung"
    );
    assert!(
        o1.claims_lost + o2.claims_lost >= 1,
        "the stalled claim must have been revoked"
    );
}
