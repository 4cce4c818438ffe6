//! The `snapstate coordinator` process: campaigns for leadership of a job; as a standby
//! it waits; as the leader it publishes the spec, restores the committed state, runs
//! the job's terms (see `term`) and returns every output once the job is complete.
//! Losing the leadership (a lease that could not be renewed, a newer leader) ends the
//! term, and the process rejoins as a standby.

mod service;
mod state;
mod term;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::error::ClusterError;
use crate::etcd::{campaign, watch_prefix, Etcd, EtcdOptions, JobControl, Lease};
use crate::keys::JobKeys;
use crate::limits::Limits;
use crate::log::Log;
use crate::metrics::Metrics;
use crate::pointer::Pointer;
use crate::spec::JobSpec;
use crate::store::Store;
use crate::table::ProgressTable;

use service::{Current, Service};
use state::LeaderState;
use term::{Term, TermConfig, TermEnd};

/// How a coordinator process runs.
#[derive(Clone, Debug)]
pub struct CoordinatorOptions {
    /// etcd client URLs.
    pub etcd: Vec<String>,
    /// etcd timeouts.
    pub etcd_options: EtcdOptions,
    /// The store root (`--store`): the job's files go in `<store>/<job>/`.
    pub store: PathBuf,
    /// Where the gRPC listener binds (`--listen`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// The address workers are told to reach this coordinator at (default: the bound
    /// address).
    pub advertise: Option<String>,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// The snapshot interval.
    pub snapshot_every: Duration,
    /// The coordinator's own lease TTL (whole seconds).
    pub lease_ttl: Duration,
    /// What to print.
    pub log: Log,
    /// How each output is checked when it arrives.
    pub check_output: crate::job::OutputCheck,
}

/// A completed job, as one coordinator saw it.
#[derive(Debug)]
pub struct CoordinatorOutcome {
    /// Every subtask's encoded output, in subtask order.
    pub outputs: Vec<Vec<u8>>,
    /// Whether this coordinator led the term that completed the job (`false`: it found
    /// the job complete, as a standby or on start, and read the outputs from the store).
    pub led_to_completion: bool,
    /// Terms of leadership this coordinator held.
    pub terms: u32,
    /// The checkpoint pointer the outputs were read from.
    pub pointer: Pointer,
}

/// Runs a coordinator for `spec` until the job is complete.
///
/// # Errors
///
/// [`ClusterError::Unreachable`] if etcd cannot be reached; [`ClusterError::Spec`] if a
/// different job of the same name exists; [`ClusterError::Store`] for an unusable
/// store; other variants for what cannot be recovered from.
pub async fn run_coordinator(
    opts: CoordinatorOptions,
    spec: JobSpec,
) -> Result<CoordinatorOutcome, ClusterError> {
    let keys = JobKeys::new(&spec.job)?;
    let log = opts.log.clone();
    let etcd = Etcd::connect(&opts.etcd, opts.etcd_options.clone()).await?;
    let control = JobControl::new(etcd.clone(), keys.clone());
    if let Some(existing) = control.spec().await? {
        check_same_job(&keys, &JobSpec::parse(&existing.value)?, &spec)?;
    }
    let limits = Limits::new(spec.runtime.max_output_bytes);
    let store = || {
        Store::open(
            &opts.store,
            &spec.job,
            &spec.kind,
            &spec.identity,
            spec.plan,
            limits.max_output(),
        )
    };
    store()?;
    let metrics = Arc::new(Metrics::default());
    if let Some(addr) = opts.metrics {
        let bound = crate::metrics::serve(addr, Arc::clone(&metrics)).await?;
        log.say(format!("metrics on http://{bound}/metrics"));
    }
    let (listener, local) = crate::net::bind(opts.listen, "--listen").await?;
    let advertise = opts.advertise.clone().unwrap_or_else(|| local.to_string());
    let current: Current = Arc::default();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = crate::net::serve(
        listener,
        Service(Arc::clone(&current)),
        limits,
        async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        },
    );
    log.say(format!("listening on {local} (advertised as {advertise})"));

    let mut terms = 0;
    let result = loop {
        if control.is_complete().await? {
            break finish_from_store(&control, &store()?, &spec, terms, false).await;
        }
        let lease = Lease::grant(&etcd, opts.lease_ttl).await?;
        log.say(format!(
            "standby: campaigning for job {} (lease TTL {:?})",
            spec.job,
            lease.ttl()
        ));
        let election = keys.election();
        let lead = tokio::select! {
            r = campaign(&etcd, &election, &advertise, &lease) => match r {
                Ok(l) => l,
                Err(ClusterError::Fenced(why)) => {
                    log.say(format!("{why}; campaigning again"));
                    continue;
                }
                Err(e) => break Err(e),
            },
            r = wait_complete(&control) => {
                if let Err(e) = r {
                    break Err(e);
                }
                let _ = lease.revoke(&etcd).await;
                continue;
            }
        };
        terms += 1;
        log.say(format!("leader of job {} (epoch {})", spec.job, lead.epoch));
        metrics.leader_epoch.set(lead.epoch);
        metrics.is_leader.set(1);
        let ended = lead_term(
            &control,
            &lease,
            lead,
            &spec,
            store()?,
            limits,
            &log,
            &metrics,
            &opts,
            &current,
        )
        .await;
        metrics.is_leader.set(0);
        metrics.leader_epoch.set(0);
        if let Some(state) = current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            state.close_all("the leader is stepping down");
        }
        match ended {
            Ok(end @ (TermEnd::Complete | TermEnd::AlreadyComplete)) => {
                let led = matches!(end, TermEnd::Complete);
                let out = finish_from_store(&control, &store()?, &spec, terms, led).await;
                // Standbys take over at once instead of after a TTL.
                let _ = lease.revoke(&etcd).await;
                break out;
            }
            Err(ClusterError::Fenced(why)) => {
                log.say(format!("{why}; rejoining as a standby"));
                // Free the leader key now if etcd can be told (else it expires).
                if lease.is_valid() {
                    let _ = lease.revoke(&etcd).await;
                }
            }
            Err(e) => {
                let _ = lease.revoke(&etcd).await;
                break Err(e);
            }
        }
    };
    stop_tx.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    result
}

fn check_same_job(keys: &JobKeys, existing: &JobSpec, ours: &JobSpec) -> Result<(), ClusterError> {
    let diff = existing.differences(ours);
    if diff.is_empty() {
        return Ok(());
    }
    Err(ClusterError::Spec(format!(
        "a different job named {:?} already exists in etcd ({}); give this one another \
         --job, or remove the old one with `etcdctl del --prefix {}`",
        keys.name(),
        diff.join("; "),
        keys.prefix()
    )))
}

async fn wait_complete(control: &JobControl) -> Result<(), ClusterError> {
    loop {
        if control.is_complete().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[allow(clippy::too_many_arguments)] // The process's pieces a term needs; one call site.
async fn lead_term(
    control: &JobControl,
    lease: &Lease,
    lead: crate::etcd::Leadership,
    spec: &JobSpec,
    store: Store,
    limits: Limits,
    log: &Log,
    metrics: &Arc<Metrics>,
    opts: &CoordinatorOptions,
    current: &Current,
) -> Result<TermEnd, ClusterError> {
    let published = control.publish_spec(&lead, &spec.to_json()).await?;
    check_same_job(control.keys(), &JobSpec::parse(&published)?, spec)?;
    let spec_revision = control
        .spec()
        .await?
        .ok_or_else(|| ClusterError::Invariant("the spec vanished from etcd".into()))?
        .mod_revision;
    let plan = spec.plan;
    let pointer = match control.pointer().await? {
        Some(v) => Some(Pointer::parse(&v.value, plan)?),
        None => None,
    };
    let table = match &pointer {
        Some(p) => {
            let (array, snap) = store.read_progress(&p.progress_file)?;
            if snap.get() != p.snapshot || array.fetch_all(snap)? != p.progress {
                return Err(ClusterError::store(
                    store.dir().join(&p.progress_file),
                    format!(
                        "does not match the checkpoint pointer (snapshot {})",
                        p.snapshot
                    ),
                ));
            }
            log.say(format!(
                "restored snapshot {} of epoch {}: {}/{} subtasks committed",
                p.snapshot,
                p.leader_epoch,
                p.committed(),
                plan.subtasks
            ));
            ProgressTable::restored(plan, array, snap)?
        }
        None => ProgressTable::new(plan),
    };
    let keep: Vec<&str> = pointer
        .iter()
        .flat_map(|p| p.segments.iter().chain([&p.progress_file]))
        .map(String::as_str)
        .collect();
    let removed = store.remove_unlisted(&keep)?;
    if removed > 0 {
        log.say(format!(
            "removed {removed} uncommitted file(s) of earlier terms from the store"
        ));
    }
    let done = table.done_nodes();
    if !done.is_empty() {
        control.mark_done(&lead, &done).await?;
    }
    let view = control.nodes().await?;
    let now = Instant::now();
    let unattached: HashMap<usize, (i64, Instant)> = view
        .owners
        .iter()
        .filter(|(n, _)| **n < plan.nodes)
        .map(|(&n, &e)| (n, (e, now)))
        .collect();
    let watch = watch_prefix(control.etcd(), control.keys().nodes(), view.revision + 1);
    let (tx, rx) = mpsc::channel(1024);
    let state = Arc::new(LeaderState::new(
        table,
        control.clone(),
        spec.job.clone(),
        spec_revision,
        lead.epoch,
        limits,
        log.clone(),
        Arc::clone(metrics),
        tx,
        opts.check_output,
    ));
    *current
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&state));
    let epoch = lead.epoch;
    let term = Term {
        state,
        lead,
        store,
        pointer,
        cfg: TermConfig {
            snapshot_every: opts.snapshot_every,
            stall_timeout: Duration::from_millis(spec.runtime.stall_timeout_ms),
        },
        unattached,
    };
    // A lost lease ends the term at once, whatever it is waiting for (an etcd call that
    // cannot get through, say): dropping the term cancels it. Files a cancelled commit
    // wrote are garbage that the next leader removes.
    tokio::select! {
        r = term.run(lease, rx, watch) => r,
        () = lease.lost() => Err(ClusterError::Fenced(format!(
            "lost the leadership of job {} (epoch {}): its lease could not be renewed",
            spec.job, epoch
        ))),
    }
}

/// Reads every committed output from the store, as the complete pointer lists them.
async fn finish_from_store(
    control: &JobControl,
    store: &Store,
    spec: &JobSpec,
    terms: u32,
    led: bool,
) -> Result<CoordinatorOutcome, ClusterError> {
    let plan = spec.plan;
    let bytes = control
        .pointer()
        .await?
        .ok_or_else(|| ClusterError::Invariant("job complete but no checkpoint pointer".into()))?;
    let pointer = Pointer::parse(&bytes.value, plan)?;
    if pointer.committed() as usize != plan.subtasks {
        return Err(ClusterError::Invariant(format!(
            "job marked complete with {}/{} subtasks committed",
            pointer.committed(),
            plan.subtasks
        )));
    }
    let mut outputs: Vec<Option<Vec<u8>>> = vec![None; plan.subtasks];
    for seg in &pointer.segments {
        for (k, out) in store.read_segment(seg)? {
            if outputs[k].replace(out).is_some() {
                return Err(ClusterError::Invariant(format!(
                    "subtask {k} committed twice"
                )));
            }
        }
    }
    let outputs = outputs
        .into_iter()
        .enumerate()
        .map(|(k, o)| {
            o.ok_or_else(|| ClusterError::Invariant(format!("subtask {k} never committed")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CoordinatorOutcome {
        outputs,
        led_to_completion: led,
        terms,
        pointer,
    })
}
