//! How many progress reports per second the leader absorbs from 8 workers, each
//! streaming its node's reports as fast as it can (tiny outputs, so the leader's
//! per-message path is what is measured: decode, checks, `set_state`, staging, and the
//! commits every 50 ms). Ignored by default (a measurement, not a check of speed):
//!
//! `cargo test --release -p snapstate-cluster --features harness --test throughput -- --ignored --nocapture`

mod support;

use std::time::{Duration, Instant};

use snapstate_cluster::etcd::{current_leader, ClaimOutcome, Etcd, JobControl, Lease};
use snapstate_cluster::harness::EtcdCluster;
use snapstate_cluster::proto::leader_message::Body;
use snapstate_cluster::wire::build;
use snapstate_cluster::{decode_outputs, encode_output, run_coordinator, JobKeys, Limits};
use support::*;
use tokio_stream::wrappers::ReceiverStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it with --ignored --nocapture"]
async fn reports_per_second_from_eight_workers() {
    const NODES: usize = 8;
    const PER_NODE: usize = 50_000;
    let etcd = EtcdCluster::start(1).unwrap();
    let eps = etcd.endpoints();
    let store = tempfile::tempdir().unwrap();
    let spec = spec("throughput", NODES * PER_NODE, NODES, 0);
    let coord = tokio::spawn(run_coordinator(coordinator(&eps, store.path(), true), spec));
    let client = Etcd::connect(&eps, etcd_options()).await.unwrap();
    let ctl = JobControl::new(client.clone(), JobKeys::new("throughput").unwrap());
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
    let lease = Lease::grant(&client, Duration::from_secs(5)).await.unwrap();
    let mut streams = Vec::new();
    for node in 0..NODES {
        let ClaimOutcome::Claimed(claim) = ctl.claim(node, lease.id(), "bench").await.unwrap()
        else {
            panic!("node {node} is free");
        };
        let mut rpc = snapstate_cluster::net::connect(&leader.value, Limits::new(1 << 16))
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        tx.send(build::hello(
            "throughput",
            spec_rev,
            leader.epoch,
            node,
            claim.epoch,
            "bench",
        ))
        .await
        .unwrap();
        let mut inbound = rpc
            .work(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let first = inbound.message().await.unwrap().unwrap();
        assert!(matches!(first.body, Some(Body::Assign(_))));
        // Outputs encoded up front: the senders only send.
        let outputs: Vec<Vec<u8>> = (0..PER_NODE)
            .map(|p| {
                let k = node + p * NODES;
                encode_output(k, &((k * k) as u64)).unwrap()
            })
            .collect();
        streams.push((node, claim, tx, inbound, outputs));
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (node, claim, tx, mut inbound, outputs) in streams {
        tasks.push(tokio::spawn(async move {
            for (p, out) in outputs.into_iter().enumerate() {
                tx.send(build::report(node, claim.epoch, p as u64, out))
                    .await
                    .unwrap();
            }
            // Until the leader says the node is committed.
            loop {
                match inbound.message().await.unwrap().unwrap().body {
                    Some(Body::Committed(c)) if c.node_done => return Instant::now(),
                    Some(Body::Fenced(f)) => panic!("node {node} fenced: {}", f.reason),
                    _ => {}
                }
            }
        }));
    }
    let mut last = started;
    for t in tasks {
        last = last.max(t.await.unwrap());
    }
    let elapsed = last.duration_since(started);
    let total = (NODES * PER_NODE) as f64;
    println!(
        "FIGURE leader_reports_per_second {:.0} ({} reports from {NODES} streams in {:.2} s, committed)",
        total / elapsed.as_secs_f64(),
        NODES * PER_NODE,
        elapsed.as_secs_f64()
    );
    let out = coord.await.unwrap().unwrap();
    let got: Vec<u64> = decode_outputs(&out.outputs).unwrap();
    assert!(got.iter().enumerate().all(|(k, &v)| v == (k * k) as u64));
}
