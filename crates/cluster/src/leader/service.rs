//! The leader's gRPC service: one task per `Work` stream. Checks every message (through
//! [`crate::wire`]), confirms the claim of a Hello in etcd, has the control task attach
//! it, then feeds reports and heartbeats straight into the progress table (the fast
//! path). A message that fails a check ends its stream with a `Fenced` reason.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::state::{ControlMsg, LeaderState, Responder};
use crate::proto::leader_server::Leader;
use crate::proto::{LeaderMessage, WorkerMessage};
use crate::spec::{PROTOCOL, VERSION};
use crate::wire::{self, build, Hello, Inbound};

/// How long a new stream may take to say Hello.
const HELLO_WITHIN: Duration = Duration::from_secs(5);

/// The current term's state, if this coordinator leads now.
pub(crate) type Current = Arc<std::sync::RwLock<Option<Arc<LeaderState>>>>;

/// The `Leader` service: it lives as long as the process and serves whichever term is
/// current; while the coordinator is a standby every stream is refused at once.
#[derive(Debug, Clone)]
pub(crate) struct Service(pub(crate) Current);

type WorkStream = Pin<Box<dyn Stream<Item = Result<LeaderMessage, Status>> + Send>>;

#[tonic::async_trait]
impl Leader for Service {
    type WorkStream = WorkStream;

    async fn work(
        &self,
        request: Request<Streaming<WorkerMessage>>,
    ) -> Result<Response<Self::WorkStream>, Status> {
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(64);
        let current = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match current {
            Some(state) => {
                tokio::spawn(handle(state, inbound, tx));
            }
            None => {
                let _ = tx.try_send(Ok(build::fenced(
                    "this coordinator is not the leader (it is a standby)",
                )));
            }
        }
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn refuse(state: &LeaderState, tx: &Responder, who: &str, reason: String) {
    state.metrics.refused.inc();
    state.log.say(format!("refused {who}: {reason}"));
    let _ = tx.send(Ok(build::fenced(reason))).await;
}

/// Checks a Hello against this leader's job, build and term.
fn check_hello(state: &LeaderState, h: &Hello) -> Result<(), String> {
    if h.job != state.job {
        return Err(format!(
            "this leader runs job {:?}, not {:?}",
            state.job, h.job
        ));
    }
    if h.protocol != PROTOCOL || h.version != VERSION {
        return Err(format!(
            "worker is snapstate {} (protocol {}), the job runs {VERSION} (protocol \
             {PROTOCOL}): run the same build on every machine",
            h.version, h.protocol
        ));
    }
    if h.spec_revision != state.spec_revision {
        return Err(format!(
            "worker read job spec revision {}, the job's is {}: the job was recreated",
            h.spec_revision, state.spec_revision
        ));
    }
    if h.leader_epoch != state.leader_epoch {
        return Err(format!(
            "worker addressed leader epoch {}, this leader is epoch {}",
            h.leader_epoch, state.leader_epoch
        ));
    }
    Ok(())
}

async fn handle(state: Arc<LeaderState>, mut inbound: Streaming<WorkerMessage>, tx: Responder) {
    let nodes = state.nodes();
    let first = match tokio::time::timeout(HELLO_WITHIN, inbound.message()).await {
        Ok(Ok(Some(m))) => m,
        _ => return,
    };
    let hello = match wire::check_worker_message(first, nodes, state.limits) {
        Ok(Inbound::Hello(h)) => h,
        Ok(_) => {
            return refuse(
                &state,
                &tx,
                "a stream",
                "the first message must be Hello".into(),
            )
            .await
        }
        Err(e) => return refuse(&state, &tx, "a stream", e.to_string()).await,
    };
    let who = format!(
        "{} (node {}, epoch {})",
        hello.worker, hello.node, hello.epoch
    );
    if let Err(reason) = check_hello(&state, &hello) {
        return refuse(&state, &tx, &who, reason).await;
    }
    // The claim must be the node's current one in etcd, not merely what the worker says.
    match state.control.owner(hello.node).await {
        Ok(Some(e)) if e == hello.epoch => {}
        Ok(found) => {
            let reason = match found {
                Some(e) => format!("node {}'s claim in etcd is epoch {e}", hello.node),
                None => format!("node {} has no claim in etcd", hello.node),
            };
            return refuse(&state, &tx, &who, reason).await;
        }
        Err(e) => return refuse(&state, &tx, &who, format!("cannot check the claim: {e}")).await,
    }
    let (reply_tx, reply_rx) = oneshot::channel();
    let (node, epoch, worker) = (hello.node, hello.epoch, hello.worker.clone());
    let asked = state
        .to_control
        .send(ControlMsg::Attach {
            hello,
            responder: tx.clone(),
            reply: reply_tx,
        })
        .await;
    let attached = match (asked, reply_rx.await) {
        (Ok(()), Ok(Ok(a))) => a,
        (Ok(()), Ok(Err(reason))) => return refuse(&state, &tx, &who, reason).await,
        _ => return, // The term is ending.
    };
    let session = attached.session;
    let last = attached.queue_len.saturating_sub(1);
    let mut why_ended = "the stream ended".to_owned();
    loop {
        let msg = match inbound.message().await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => {
                why_ended = format!("the stream failed: {}", e.message());
                break;
            }
        };
        let checked = wire::check_worker_message(msg, nodes, state.limits);
        let mut finished = false;
        let result = match checked {
            Ok(Inbound::Report {
                node: n,
                epoch: e,
                position,
                output,
            }) if n == node && e == epoch => {
                finished = position == last;
                let plan = state.table.plan();
                // Out-of-range positions are the table's to refuse; only in-range ones
                // name a subtask.
                let checked = if position < plan.queue_len(node) as u64 {
                    state
                        .check_output
                        .check(plan.subtask(node, position as usize), &output)
                } else {
                    Ok(())
                };
                match checked {
                    Ok(()) => state
                        .table
                        .report(node, session, position, output)
                        .map(|()| true)
                        .map_err(|r| r.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Ok(Inbound::Heartbeat { node: n, epoch: e }) if n == node && e == epoch => state
                .table
                .heartbeat(node, session)
                .map(|()| false)
                .map_err(|r| r.to_string()),
            Ok(Inbound::Hello(_)) => Err("a second Hello on one stream".to_owned()),
            Ok(_) => Err(format!(
                "a message for another claim than node {node} epoch {epoch}"
            )),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(true) => {
                state.metrics.reports.inc();
                if finished {
                    // Best effort: the next tick commits it anyway.
                    let _ = state.to_control.try_send(ControlMsg::QueueFinished);
                }
            }
            Ok(false) => {}
            Err(reason) => {
                refuse(&state, &tx, &who, reason).await;
                why_ended = "its message was refused".into();
                break;
            }
        }
    }
    let _ = state
        .to_control
        .send(ControlMsg::StreamEnded {
            node,
            epoch,
            session,
            worker: format!("{worker}: {why_ended}"),
        })
        .await;
}
