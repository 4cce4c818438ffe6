//! The etcd control layer against real etcd processes: election and leader epochs,
//! fenced writes, claims on worker leases, lease expiry, watches, and retries across
//! the members of a cluster that loses one.

use std::time::{Duration, Instant};

use snapstate_cluster::etcd::{
    campaign, current_leader, watch_prefix, ClaimOutcome, CommitOutcome, Etcd, EtcdOptions,
    JobControl, KeyEvent, Lease, WatchItem,
};
use snapstate_cluster::harness::{free_port, EtcdCluster};
use snapstate_cluster::{ClusterError, JobKeys};

const TTL: Duration = Duration::from_secs(1);

async fn connect(cluster: &EtcdCluster) -> Etcd {
    Etcd::connect(
        &cluster.endpoints(),
        EtcdOptions::default().op_timeout(Duration::from_millis(500)),
    )
    .await
    .expect("connect to the test cluster")
}

fn control(etcd: &Etcd, job: &str) -> JobControl {
    JobControl::new(etcd.clone(), JobKeys::new(job).unwrap())
}

/// Waits (bounded) until `f` holds.
async fn eventually(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leader_cannot_write_and_epochs_grow() {
    let cluster = EtcdCluster::start(1).unwrap();
    let etcd = connect(&cluster).await;
    let ctl = control(&etcd, "election");
    let keys = ctl.keys().clone();

    let lease_a = Lease::grant(&etcd, TTL).await.unwrap();
    let a = campaign(&etcd, &keys.election(), "addr-a", &lease_a)
        .await
        .unwrap();
    assert_eq!(ctl.publish_spec(&a, b"spec-a").await.unwrap(), b"spec-a");
    let info = current_leader(&etcd, &keys.election())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((info.value.as_str(), info.epoch), ("addr-a", a.epoch));

    // B campaigns while A leads: it must wait.
    let lease_b = Lease::grant(&etcd, TTL).await.unwrap();
    let etcd_b = etcd.clone();
    let election = keys.election();
    let b_task = tokio::spawn(async move {
        campaign(&etcd_b, &election, "addr-b", &lease_b)
            .await
            .map(|l| (l, lease_b))
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !b_task.is_finished(),
        "B became leader while A's lease was alive"
    );

    // A stops renewing (a frozen or partitioned leader): it distrusts its lease first,
    // then etcd expires it and B is elected with a larger epoch.
    lease_a.abandon();
    eventually("A to distrust its lease", 2 * TTL, async || {
        !lease_a.is_valid()
    })
    .await;
    let (b, _lease_b) = tokio::time::timeout(5 * TTL, b_task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(b.epoch > a.epoch, "epochs {} then {}", a.epoch, b.epoch);

    // A's writes are all refused; B's go through.
    assert!(matches!(
        ctl.commit(&a, b"pointer-a", &[], &[], false).await.unwrap(),
        CommitOutcome::Deposed
    ));
    assert!(matches!(ctl.publish_spec(&a, b"spec-other").await, Ok(v) if v == b"spec-a"));
    assert!(ctl.revoke_claim(&a, 0, 1).await.is_ok_and(|ok| !ok));
    assert!(ctl.pointer().await.unwrap().is_none());
    assert!(matches!(
        ctl.commit(&b, b"pointer-b", &[], &[], false).await.unwrap(),
        CommitOutcome::Committed(_)
    ));
    assert_eq!(ctl.pointer().await.unwrap().unwrap().value, b"pointer-b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_exclusive_expire_with_their_lease_and_fence_commits() {
    let cluster = EtcdCluster::start(1).unwrap();
    let etcd = connect(&cluster).await;
    let ctl = control(&etcd, "claims");
    let keys = ctl.keys().clone();
    let leader_lease = Lease::grant(&etcd, Duration::from_secs(5)).await.unwrap();
    let lead = campaign(&etcd, &keys.election(), "leader", &leader_lease)
        .await
        .unwrap();

    let wa = Lease::grant(&etcd, TTL).await.unwrap();
    let wb = Lease::grant(&etcd, TTL).await.unwrap();
    let ClaimOutcome::Claimed(a) = ctl.claim(0, wa.id(), "worker-a").await.unwrap() else {
        panic!("the first claim on a free node must succeed");
    };
    // A retried claim by the same lease is recognised as the same claim.
    assert_eq!(
        ctl.claim(0, wa.id(), "worker-a").await.unwrap(),
        ClaimOutcome::Claimed(a)
    );
    assert_eq!(
        ctl.claim(0, wb.id(), "worker-b").await.unwrap(),
        ClaimOutcome::Taken
    );
    assert_eq!(ctl.owner(0).await.unwrap(), Some(a.epoch));

    let view = ctl.nodes().await.unwrap();
    assert_eq!(view.owners.get(&0), Some(&a.epoch));
    let mut watch = watch_prefix(&etcd, keys.nodes(), view.revision + 1);

    // A commit guarded by A's claim goes through while it holds.
    assert!(matches!(
        ctl.commit(&lead, b"p1", &[(0, a.epoch)], &[], false)
            .await
            .unwrap(),
        CommitOutcome::Committed(_)
    ));

    // A dies: its lease expires, the watcher sees its owner key deleted.
    wa.abandon();
    let deleted = tokio::time::timeout(5 * TTL, async {
        loop {
            match watch.recv().await.expect("watch open") {
                WatchItem::Events(evs) => {
                    for e in evs {
                        if let KeyEvent::Delete {
                            key,
                            prev_create_revision,
                            ..
                        } = e
                        {
                            return (key, prev_create_revision);
                        }
                    }
                }
                WatchItem::Resync => panic!("no compaction in this test"),
            }
        }
    })
    .await
    .expect("the expired claim's key must be deleted");
    assert_eq!(deleted, (keys.owner(0).into_bytes(), Some(a.epoch)));

    // B takes the node over with a larger epoch; A's epoch can no longer commit.
    let ClaimOutcome::Claimed(b) = ctl.claim(0, wb.id(), "worker-b").await.unwrap() else {
        panic!("a node whose claim expired must be claimable");
    };
    assert!(b.epoch > a.epoch);
    assert_eq!(
        ctl.commit(&lead, b"zombie", &[(0, a.epoch)], &[], false)
            .await
            .unwrap(),
        CommitOutcome::Lapsed(vec![0])
    );
    assert_eq!(ctl.pointer().await.unwrap().unwrap().value, b"p1");

    // Committing node 0's last output marks it done and frees it for good.
    assert!(matches!(
        ctl.commit(&lead, b"p2", &[(0, b.epoch)], &[0], true)
            .await
            .unwrap(),
        CommitOutcome::Committed(_)
    ));
    assert_eq!(ctl.owner(0).await.unwrap(), None);
    assert_eq!(
        ctl.claim(0, wb.id(), "worker-b").await.unwrap(),
        ClaimOutcome::Done
    );
    assert!(ctl.is_complete().await.unwrap());
    // A claim released by its owner frees the node.
    let ClaimOutcome::Claimed(c) = ctl.claim(1, wb.id(), "worker-b").await.unwrap() else {
        panic!("node 1 is free");
    };
    assert!(ctl.release(c).await.unwrap());
    assert!(!ctl.release(c).await.unwrap());
    assert_eq!(ctl.owner(1).await.unwrap(), None);
    // The leader can end a claim it judges stalled, but only that claim.
    let ClaimOutcome::Claimed(d) = ctl.claim(1, wb.id(), "worker-b").await.unwrap() else {
        panic!("node 1 is free again");
    };
    assert!(!ctl.revoke_claim(&lead, 1, d.epoch - 1).await.unwrap());
    assert!(ctl.revoke_claim(&lead, 1, d.epoch).await.unwrap());
    assert_eq!(ctl.owner(1).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_leases_and_watches_survive_losing_a_member() {
    let mut cluster = EtcdCluster::start(3).unwrap();
    let etcd = connect(&cluster).await;
    let ctl = control(&etcd, "members");
    let keys = ctl.keys().clone();
    let lease = Lease::grant(&etcd, TTL).await.unwrap();
    let lead = campaign(&etcd, &keys.election(), "leader", &lease)
        .await
        .unwrap();
    let view = ctl.nodes().await.unwrap();
    let mut watch = watch_prefix(&etcd, keys.nodes(), view.revision + 1);

    // Kill the raft leader: the hardest member to lose.
    let victim = cluster
        .raft_leader()
        .expect("a 3-member cluster has a raft leader");
    cluster.kill(victim);

    let worker = Lease::grant(&etcd, TTL).await.unwrap();
    for node in 0..50 {
        let out = ctl
            .claim(node, worker.id(), "w")
            .await
            .expect("every call must succeed");
        assert!(
            matches!(out, ClaimOutcome::Claimed(_)),
            "node {node}: {out:?}"
        );
    }
    // The watch saw all 50 claims, exactly once each, in order.
    let mut seen = Vec::new();
    while seen.len() < 50 {
        let item = tokio::time::timeout(Duration::from_secs(5), watch.recv()).await;
        match item.expect("watch events").expect("watch open") {
            WatchItem::Events(evs) => {
                for e in evs {
                    if let KeyEvent::Put { key, .. } = e {
                        seen.push(keys.node_of(&key).unwrap().0);
                    }
                }
            }
            WatchItem::Resync => panic!("no compaction in this test"),
        }
    }
    assert_eq!(seen, (0..50).collect::<Vec<_>>());
    // Both leases stay alive across 3 TTLs although a member died.
    tokio::time::sleep(3 * TTL).await;
    assert!(lease.is_valid() && worker.is_valid());
    assert!(matches!(
        ctl.commit(
            &lead,
            b"p",
            &[(7, ctl.owner(7).await.unwrap().unwrap())],
            &[],
            false
        )
        .await
        .unwrap(),
        CommitOutcome::Committed(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_etcd_is_a_clear_error_in_bounded_time() {
    let port = free_port().unwrap();
    let err = Etcd::connect(
        &[format!("http://127.0.0.1:{port}")],
        EtcdOptions::default().connect_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ClusterError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert!(Etcd::connect(&[], EtcdOptions::default()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_etcd_with_auth_takes_only_its_user() {
    let cluster = EtcdCluster::start(1).unwrap();
    let ep = cluster.endpoint(0);
    let etcdctl = |args: &[&str]| {
        let st = cluster
            .etcdctl()
            .args(["--endpoints", &ep])
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "etcdctl {args:?}");
    };
    etcdctl(&["user", "add", "root", "--new-user-password", "s3cret"]);
    etcdctl(&["auth", "enable"]);
    let opts = || EtcdOptions::default().op_timeout(Duration::from_millis(500));
    // The right password: reads and fenced writes work (a claim, then its release).
    let etcd = Etcd::connect(std::slice::from_ref(&ep), opts().user("root", "s3cret"))
        .await
        .unwrap();
    let ctl = control(&etcd, "auth");
    let lease = Lease::grant(&etcd, TTL).await.unwrap();
    let ClaimOutcome::Claimed(c) = ctl.claim(0, lease.id(), "w").await.unwrap() else {
        panic!("node 0 is free");
    };
    assert_eq!(ctl.owner(0).await.unwrap(), Some(c.epoch));
    // A wrong password is refused at connect, with a message naming the user.
    let e = Etcd::connect(std::slice::from_ref(&ep), opts().user("root", "wrong"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("\"root\""), "{e}");
    // No user at all: connected, but every request is refused.
    let anon = Etcd::connect(
        std::slice::from_ref(&ep),
        opts().retry_for(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    assert!(control(&anon, "auth").owner(0).await.is_err());
}
