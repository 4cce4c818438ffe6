//! The `snapstate worker` process: reads the job spec from etcd, rebuilds the job,
//! claims a free node on its own lease, streams the node's subtask outputs to the
//! leader, and claims another node when its own is done or taken away. Exits once the
//! job is complete.
//!
//! Subtasks run on a thread of their own (they are CPU work); the async side forwards
//! their outputs, and a heartbeat every `heartbeat_ms` while the running subtask beats
//! (or while the worker waits for its last outputs to be committed). A worker whose
//! lease can no longer be trusted, or whose claim the leader fences, stops its subtask
//! and drops whatever it had not sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use snapstate_coordinator::{Job, JobError, TaskContext, TaskSignal};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::claim::ClaimHolder;
use crate::error::ClusterError;
use crate::etcd::{current_leader, Claim, ClaimOutcome, Etcd, EtcdOptions, JobControl, Lease};
use crate::job::{encode_output, JobKind};
use crate::keys::JobKeys;
use crate::limits::Limits;
use crate::log::Log;
use crate::net::Transport;
use crate::spec::{JobSpec, TransportKind};
use crate::wire::{self, build, Outbound};

/// How a worker process runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// etcd client URLs.
    pub etcd: Vec<String>,
    /// etcd timeouts.
    pub etcd_options: EtcdOptions,
    /// The job's name.
    pub job: String,
    /// This worker's name in logs (default host:pid).
    pub name: String,
    /// How long to wait for the job's spec to appear in etcd.
    pub job_timeout: Duration,
    /// What to print.
    pub log: Log,
    /// Plaintext to a loopback leader, or mutual TLS with the job's certificates.
    pub transport: Transport,
    /// Test only: behave as a zombie that ignores its own fencing (a lost lease, a
    /// claim gone from etcd) and, on every reconnect, sends its last report again
    /// right behind its Hello, so tests can check the leader refuses it.
    #[cfg(feature = "harness")]
    pub zombie: bool,
}

/// What a worker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerOutcome {
    /// Claims it held.
    pub claims: u32,
    /// Subtasks it ran to the end.
    pub subtasks_run: u64,
    /// Claims that ended before their node was done (fenced, lease lost, leader gone).
    pub claims_lost: u32,
}

/// A report a zombie sends again: node, epoch, position, output.
type LastReport = (usize, i64, u64, Vec<u8>);

/// How one claim ended.
#[derive(Debug)]
enum ClaimEnd {
    /// The node's queue is committed.
    NodeDone,
    /// The claim is over for another reason.
    Lost(String),
}

struct Ctx<J> {
    control: JobControl,
    spec: JobSpec,
    spec_revision: i64,
    job: Arc<J>,
    name: String,
    log: Log,
    limits: Limits,
    transport: Transport,
    zombie: bool,
    /// The zombie's last report.
    last_sent: std::sync::Mutex<Option<LastReport>>,
}

/// Runs a worker of job `opts.job`, whose spec must be of `kind`, until the job is
/// complete.
///
/// # Errors
///
/// [`ClusterError::Unreachable`] if etcd cannot be reached; [`ClusterError::Spec`] if
/// no such job appears in time, or it was started by another build or for another job
/// kind; [`ClusterError::Job`] if a subtask fails in a way retrying cannot fix.
pub async fn run_worker<K: JobKind>(
    opts: WorkerOptions,
    kind: K,
) -> Result<WorkerOutcome, ClusterError> {
    let keys = JobKeys::new(&opts.job)?;
    if let Some(tls) = opts.transport.tls() {
        tls.check_client_certificate()?;
    }
    opts.etcd_options.check_endpoints(&opts.etcd)?;
    let etcd = Etcd::connect(&opts.etcd, opts.etcd_options.clone()).await?;
    let control = JobControl::new(etcd.clone(), keys.clone());
    let log = opts.log.clone();
    let deadline = Instant::now() + opts.job_timeout;
    let found = loop {
        if let Some(v) = control.spec().await? {
            break v;
        }
        if Instant::now() >= deadline {
            return Err(ClusterError::Spec(format!(
                "no job named {:?} in etcd at {} after {:.1} s; start it with \
                 `snapstate coordinator --etcd ... --job {}`, or check --job",
                opts.job,
                opts.etcd.join(","),
                opts.job_timeout.as_secs_f64(),
                opts.job
            )));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let spec = JobSpec::parse(&found.value)?;
    spec.check_build()?;
    match (spec.transport, &opts.transport) {
        (TransportKind::MutualTls, Transport::Loopback) => {
            return Err(ClusterError::Config(format!(
                "job {:?} runs over mutual TLS: give this worker the job's certificates \
                 with --tls-ca, --tls-cert and --tls-key",
                opts.job
            )))
        }
        (TransportKind::Loopback, Transport::MutualTls(_)) => {
            return Err(ClusterError::Config(format!(
                "job {:?} runs without TLS (plaintext on loopback) but this worker was given \
                 certificates; it never falls back to plaintext: drop --tls-* here, or \
                 restart the job's coordinators with them",
                opts.job
            )))
        }
        _ => {}
    }
    if spec.kind != kind.kind() {
        return Err(ClusterError::Spec(format!(
            "job {:?} is a {:?} job; this worker runs {:?} jobs",
            opts.job,
            spec.kind,
            kind.kind()
        )));
    }
    let job = kind.build(&spec.params).map_err(|e| {
        ClusterError::Spec(format!(
            "cannot rebuild job {:?} from its spec: {e}",
            opts.job
        ))
    })?;
    let identity = job.identity();
    if identity.digest().to_string() != spec.identity || job.subtasks() != spec.plan.subtasks {
        return Err(ClusterError::Spec(format!(
            "job {:?} rebuilt here is {identity} with {} subtasks, not what its coordinator \
             published ({} subtasks): do the inputs differ on this machine?",
            opts.job,
            job.subtasks(),
            spec.plan.subtasks
        )));
    }
    log.say(format!(
        "job {} ({}): {} subtasks on {} nodes; lease TTL {} ms",
        opts.job, identity, spec.plan.subtasks, spec.plan.nodes, spec.runtime.lease_ttl_ms
    ));
    let ctx = Ctx {
        control,
        limits: Limits::new(spec.runtime.max_output_bytes),
        spec_revision: found.mod_revision,
        job: Arc::new(job),
        name: opts.name.clone(),
        log,
        spec,
        transport: opts.transport.clone(),
        #[cfg(feature = "harness")]
        zombie: opts.zombie,
        #[cfg(not(feature = "harness"))]
        zombie: false,
        last_sent: std::sync::Mutex::new(None),
    };
    work(&ctx, &etcd).await
}

async fn work<J: Job>(ctx: &Ctx<J>, etcd: &Etcd) -> Result<WorkerOutcome, ClusterError> {
    let ttl = Duration::from_millis(ctx.spec.runtime.lease_ttl_ms);
    let nodes = ctx.spec.plan.nodes;
    let mut outcome = WorkerOutcome::default();
    let mut lease = Lease::grant(etcd, ttl).await?;
    // Spread first claims: start the search at a node derived from the name.
    let start = ctx
        .name
        .bytes()
        .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize))
        % nodes;
    let poll = Duration::from_millis(50);
    let holder = ClaimHolder {
        worker: ctx.name.clone(),
        cert: ctx.transport.tls().map(|t| t.fingerprint().to_owned()),
    };
    loop {
        if ctx.control.is_complete().await? {
            ctx.log.say("the job is complete; exiting");
            let _ = lease.revoke(etcd).await;
            return Ok(outcome);
        }
        if !lease.is_valid() {
            ctx.log.say(
                "my lease could not be renewed: every claim of it is void; taking a new lease",
            );
            lease = Lease::grant(etcd, ttl).await?;
        }
        let view = ctx.control.nodes().await?;
        let mut claim = None;
        for k in 0..nodes {
            let node = (start + k) % nodes;
            if view.done.contains(&node) || view.owners.contains_key(&node) {
                continue;
            }
            if let ClaimOutcome::Claimed(c) =
                ctx.control.claim_as(node, lease.id(), &holder).await?
            {
                claim = Some(c);
                break;
            }
        }
        let Some(claim) = claim else {
            tokio::time::sleep(poll).await;
            continue;
        };
        outcome.claims += 1;
        ctx.log.say(format!(
            "claimed node {} (epoch {})",
            claim.node, claim.epoch
        ));
        let (end, ran) = run_claim(ctx, &lease, claim).await?;
        outcome.subtasks_run += ran;
        match end {
            ClaimEnd::NodeDone => ctx
                .log
                .say(format!("node {} is done and committed", claim.node)),
            ClaimEnd::Lost(why) => {
                outcome.claims_lost += 1;
                ctx.log.say(format!(
                    "gave up node {} (epoch {}): {why}",
                    claim.node, claim.epoch
                ));
                // Only deletes the key if it is still this claim's.
                let _ = ctx.control.release(claim).await;
            }
        }
    }
}

/// Runs the queue of one claim from `position`, on a thread; sends `(position, output)`.
fn spawn_queue<J: Job>(
    job: Arc<J>,
    plan: crate::plan::Plan,
    node: usize,
    position: u64,
    signal: Arc<TaskSignal>,
    stop: Arc<AtomicBool>,
    tx: mpsc::Sender<(u64, Result<Vec<u8>, ClusterError>)>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("snapstate-node-{node}"))
        .spawn(move || {
            for pos in position..plan.queue_len(node) as u64 {
                // Acquire: pairs with the Release store that stops the queue, so a stopped
                // queue starts no further subtask.
                if stop.load(Ordering::Acquire) {
                    return;
                }
                let subtask = plan.subtask(node, pos as usize);
                let ctx = TaskContext::new(subtask, 0, Arc::clone(&signal));
                let result = match job.run(subtask, &ctx) {
                    Ok(out) => encode_output(subtask, &out),
                    Err(JobError::Cancelled) => return,
                    Err(e) => Err(ClusterError::Job {
                        subtask,
                        message: e.to_string(),
                    }),
                };
                signal.beat();
                let failed = result.is_err();
                if tx.blocking_send((pos, result)).is_err() || failed {
                    return;
                }
            }
        })
}

/// Holds one claim: connects to the leader (again after a failover), runs the node's
/// queue from where the leader says, and returns how the claim ended and how many
/// subtasks ran to the end.
async fn run_claim<J: Job>(
    ctx: &Ctx<J>,
    lease: &Lease,
    claim: Claim,
) -> Result<(ClaimEnd, u64), ClusterError> {
    let keys = ctx.control.keys().clone();
    let mut ran = 0;
    let mut refusals = 0;
    loop {
        if !lease.is_valid() && !ctx.zombie {
            return Ok((
                ClaimEnd::Lost("my lease could not be renewed in time".into()),
                ran,
            ));
        }
        if !ctx.zombie && ctx.control.owner(claim.node).await? != Some(claim.epoch) {
            return Ok((ClaimEnd::Lost("the claim is gone from etcd".into()), ran));
        }
        let Some(leader) = current_leader(ctx.control.etcd(), &keys.election()).await? else {
            // No leader: between terms, or the job is over (its last leader has left).
            if ctx.control.is_complete().await? {
                return Ok((ClaimEnd::Lost("the job is complete".into()), ran));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut client = match crate::net::connect(&leader.value, ctx.limits, &ctx.transport).await
        {
            Ok(c) => c,
            // Plaintext to a non-loopback leader: never, and retrying will not help.
            Err(e @ ClusterError::Config(_)) => return Err(e),
            Err(e) => {
                ctx.log.say(format!("{e}; retrying"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (out_tx, out_rx) = mpsc::channel(256);
        let hello = build::hello(
            &ctx.spec.job,
            ctx.spec_revision,
            leader.epoch,
            claim.node,
            claim.epoch,
            &ctx.name,
        );
        // The channel is fresh: this cannot fail.
        let _ = out_tx.send(hello).await;
        if ctx.zombie {
            let last = ctx
                .last_sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            if let Some((node, epoch, pos, bytes)) = last.filter(|l| l.0 == claim.node) {
                ctx.log.say(format!(
                    "zombie: sending a late report of node {node} position {pos} (epoch \
                     {epoch}) behind my Hello"
                ));
                let _ = out_tx.send(build::report(node, epoch, pos, bytes)).await;
            }
        }
        let mut inbound = match client.work(ReceiverStream::new(out_rx)).await {
            Ok(r) => r.into_inner(),
            Err(e) => {
                ctx.log.say(format!(
                    "the leader at {} refused the stream: {}; retrying",
                    leader.value,
                    e.message()
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let first = tokio::time::timeout(Duration::from_secs(5), inbound.message()).await;
        let position = match first {
            Ok(Ok(Some(m))) => {
                match wire::check_leader_message(m, claim.node, claim.epoch, leader.epoch)? {
                    Outbound::Assign { position, .. } => position,
                    Outbound::Fenced(reason) => {
                        refusals += 1;
                        if refusals >= 20 {
                            return Ok((
                                ClaimEnd::Lost(format!("the leader keeps refusing: {reason}")),
                                ran,
                            ));
                        }
                        ctx.log
                            .say(format!("the leader refused: {reason}; retrying"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    Outbound::Committed { .. } => {
                        return Err(ClusterError::Protocol(
                            "the leader's first message was not Assign".into(),
                        ))
                    }
                }
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        ctx.log.say(format!(
            "node {}: leader epoch {} at {} assigned position {position}",
            claim.node, leader.epoch, leader.value
        ));
        match stream_queue(ctx, lease, claim, position, &out_tx, &mut inbound, &mut ran).await? {
            Some(end) => return Ok((end, ran)),
            None => {
                ctx.log.say(format!(
                    "lost the stream to the leader at {}; looking for the leader again",
                    leader.value
                ));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Runs the queue on one stream. `None`: the stream broke (reconnect and resume where
/// the leader then says).
async fn stream_queue<J: Job>(
    ctx: &Ctx<J>,
    lease: &Lease,
    claim: Claim,
    position: u64,
    out: &mpsc::Sender<crate::proto::WorkerMessage>,
    inbound: &mut tonic::Streaming<crate::proto::LeaderMessage>,
    ran: &mut u64,
) -> Result<Option<ClaimEnd>, ClusterError> {
    let signal = Arc::new(TaskSignal::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (res_tx, mut res_rx) = mpsc::channel(4);
    let queue_len = ctx.spec.plan.queue_len(claim.node) as u64;
    let handle = spawn_queue(
        Arc::clone(&ctx.job),
        ctx.spec.plan,
        claim.node,
        position,
        Arc::clone(&signal),
        Arc::clone(&stop),
        res_tx,
    )
    .map_err(|e| ClusterError::Net(format!("cannot start a subtask thread: {e}")))?;
    let halt = || {
        // Release: pairs with the queue thread's Acquire load.
        stop.store(true, Ordering::Release);
        signal.cancel();
    };
    let mut next = position;
    let mut beats_seen = signal.beats();
    let mut tick = tokio::time::interval(Duration::from_millis(ctx.spec.runtime.heartbeat_ms));
    let end = loop {
        tokio::select! {
            r = res_rx.recv(), if next < queue_len => match r {
                Some((pos, Ok(bytes))) => {
                    next = pos + 1;
                    *ran += 1;
                    if ctx.zombie {
                        *ctx.last_sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some((claim.node, claim.epoch, pos, bytes.clone()));
                    }
                    if out.send(build::report(claim.node, claim.epoch, pos, bytes)).await.is_err() {
                        break None;
                    }
                }
                Some((_, Err(e))) => {
                    halt();
                    return Err(e);
                }
                None => break None,
            },
            _ = tick.tick() => {
                let beats = signal.beats();
                // Beat while the running subtask beats, and while waiting for the commit.
                if (beats != beats_seen || next >= queue_len)
                    && out.send(build::heartbeat(claim.node, claim.epoch)).await.is_err()
                {
                    break None;
                }
                beats_seen = beats;
            }
            () = lease.lost(), if !ctx.zombie => {
                break Some(ClaimEnd::Lost("my lease expired".into()));
            }
            m = inbound.message() => match m {
                Ok(Some(m)) => match wire::check_leader_message(m, claim.node, claim.epoch, 0) {
                    Ok(Outbound::Committed { node_done: true, .. }) => break Some(ClaimEnd::NodeDone),
                    Ok(Outbound::Committed { .. }) => {}
                    Ok(Outbound::Fenced(reason)) if ctx.zombie => {
                        ctx.log.say(format!("zombie: ignoring my fencing ({reason}); reconnecting"));
                        break None;
                    }
                    Ok(Outbound::Fenced(reason)) => break Some(ClaimEnd::Lost(format!("fenced by the leader: {reason}"))),
                    Ok(Outbound::Assign { .. }) => break Some(ClaimEnd::Lost("an unexpected second Assign".into())),
                    Err(e) => break Some(ClaimEnd::Lost(e.to_string())),
                },
                _ => break None,
            },
        }
    };
    halt();
    drop(res_rx);
    // The thread stops at its next heartbeat or between subtasks; do not wait on it.
    drop(handle);
    Ok(end)
}
