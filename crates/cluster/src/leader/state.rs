//! What the leader's stream handlers and its control task share.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, oneshot};

use crate::etcd::JobControl;
use crate::limits::Limits;
use crate::log::Log;
use crate::metrics::Metrics;
use crate::proto::LeaderMessage;
use crate::table::{Attached, ProgressTable};
use crate::wire::Hello;

/// The sending half of one stream's responses.
pub(crate) type Responder = mpsc::Sender<Result<LeaderMessage, tonic::Status>>;

/// Requests from stream handlers to the control task.
#[derive(Debug)]
pub(crate) enum ControlMsg {
    /// A checked Hello whose claim etcd confirmed: attach it.
    Attach {
        hello: Hello,
        responder: Responder,
        reply: oneshot::Sender<Result<Attached, String>>,
    },
    /// A node's last subtask was reported: commit now rather than at the next tick.
    QueueFinished,
    /// A stream ended (the worker closed it, died, or was cut off).
    StreamEnded {
        node: usize,
        epoch: i64,
        session: u64,
        worker: String,
    },
}

/// The leader's state for one term of leadership.
#[derive(Debug)]
pub(crate) struct LeaderState {
    pub(crate) table: ProgressTable,
    pub(crate) control: JobControl,
    pub(crate) job: String,
    pub(crate) spec_revision: i64,
    pub(crate) leader_epoch: i64,
    pub(crate) limits: Limits,
    pub(crate) log: Log,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) to_control: mpsc::Sender<ControlMsg>,
    pub(crate) check_output: crate::job::OutputCheck,
    /// The response stream of each attached session.
    streams: Mutex<HashMap<u64, Responder>>,
}

impl LeaderState {
    #[allow(clippy::too_many_arguments)] // The term's fixed facts, each its own field.
    pub(crate) fn new(
        table: ProgressTable,
        control: JobControl,
        job: String,
        spec_revision: i64,
        leader_epoch: i64,
        limits: Limits,
        log: Log,
        metrics: Arc<Metrics>,
        to_control: mpsc::Sender<ControlMsg>,
        check_output: crate::job::OutputCheck,
    ) -> Self {
        LeaderState {
            table,
            control,
            job,
            spec_revision,
            leader_epoch,
            limits,
            log,
            metrics,
            to_control,
            check_output,
            streams: Mutex::new(HashMap::new()),
        }
    }

    fn streams(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Responder>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn register(&self, session: u64, responder: Responder) {
        self.streams().insert(session, responder);
    }

    /// Sends `msg` to session `session`'s stream if it is still open (never blocks: a
    /// worker that does not read its stream misses notices, not the leader's time).
    pub(crate) fn notify(&self, session: u64, msg: LeaderMessage) {
        if let Some(tx) = self.streams().get(&session) {
            // A full or closed channel: the worker will learn from its next Hello.
            let _ = tx.try_send(Ok(msg));
        }
    }

    /// Sends a last message to session `session` and closes its response stream.
    pub(crate) fn close(&self, session: u64, last: Option<LeaderMessage>) {
        if let Some(tx) = self.streams().remove(&session) {
            if let Some(m) = last {
                let _ = tx.try_send(Ok(m));
            }
        }
    }

    /// Closes every stream (the term is over).
    pub(crate) fn close_all(&self, reason: &str) {
        let all: Vec<_> = self.streams().drain().collect();
        for (_, tx) in all {
            let _ = tx.try_send(Ok(crate::wire::build::fenced(reason)));
        }
    }

    pub(crate) fn nodes(&self) -> usize {
        self.table.plan().nodes
    }
}
