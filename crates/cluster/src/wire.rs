//! Every message from a worker, checked before it touches the leader's state: the one
//! place where protobuf messages become the leader's inputs. A message that fails a check
//! is a [`ClusterError::Protocol`]: its stream is ended, the leader keeps running.

use crate::error::ClusterError;
use crate::limits::Limits;
use crate::proto::{self, worker_message::Body};

/// A checked Hello: who the worker is and which claim it brings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The job's name.
    pub job: String,
    /// The worker's protocol.
    pub protocol: u32,
    /// The worker's build version.
    pub version: String,
    /// The create_revision of the spec the worker read.
    pub spec_revision: i64,
    /// The leader epoch the worker found.
    pub leader_epoch: i64,
    /// The claimed node.
    pub node: usize,
    /// The claim's epoch.
    pub epoch: i64,
    /// The worker's name, for logs.
    pub worker: String,
}

/// A checked message from a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// The first message of a stream.
    Hello(Hello),
    /// A finished subtask.
    Report {
        /// The node.
        node: usize,
        /// The claim's epoch.
        epoch: i64,
        /// The queue position.
        position: u64,
        /// The encoded output.
        output: Vec<u8>,
    },
    /// The worker is alive.
    Heartbeat {
        /// The node.
        node: usize,
        /// The claim's epoch.
        epoch: i64,
    },
}

fn bad(why: impl Into<String>) -> ClusterError {
    ClusterError::Protocol(why.into())
}

fn node(n: u64, nodes: usize) -> Result<usize, ClusterError> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n < nodes)
        .ok_or_else(|| bad(format!("node {n} out of range 0..{nodes}")))
}

fn epoch(e: i64) -> Result<i64, ClusterError> {
    if e > 0 {
        Ok(e)
    } else {
        Err(bad(format!("epoch {e} is not a revision")))
    }
}

fn string(name: &str, s: String) -> Result<String, ClusterError> {
    if s.len() > Limits::MAX_STRING {
        return Err(bad(format!(
            "{name} is {} bytes, over {}",
            s.len(),
            Limits::MAX_STRING
        )));
    }
    Ok(s)
}

/// Checks a message from a worker of a job with `nodes` nodes.
///
/// # Errors
///
/// [`ClusterError::Protocol`] for an empty message, a node out of range, an epoch that is
/// not a revision, an oversized output or string.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "distributed")] {
/// use snapstate_cluster::proto::{worker_message::Body, Heartbeat, WorkerMessage};
/// use snapstate_cluster::wire::{check_worker_message, Inbound};
/// use snapstate_cluster::Limits;
///
/// let msg = WorkerMessage { body: Some(Body::Heartbeat(Heartbeat { node: 1, epoch: 9 })) };
/// let got = check_worker_message(msg, 2, Limits::new(10)).unwrap();
/// assert_eq!(got, Inbound::Heartbeat { node: 1, epoch: 9 });
/// let msg = WorkerMessage { body: Some(Body::Heartbeat(Heartbeat { node: 2, epoch: 9 })) };
/// assert!(check_worker_message(msg, 2, Limits::new(10)).is_err());
/// # }
/// ```
pub fn check_worker_message(
    msg: proto::WorkerMessage,
    nodes: usize,
    limits: Limits,
) -> Result<Inbound, ClusterError> {
    match msg.body.ok_or_else(|| bad("an empty message"))? {
        Body::Hello(h) => Ok(Inbound::Hello(Hello {
            job: string("job", h.job)?,
            protocol: h.protocol,
            version: string("version", h.version)?,
            spec_revision: epoch(h.spec_revision)?,
            leader_epoch: epoch(h.leader_epoch)?,
            node: node(h.node, nodes)?,
            epoch: epoch(h.epoch)?,
            worker: string("worker", h.worker)?,
        })),
        Body::Report(r) => {
            if r.output.len() as u64 > limits.max_output() {
                return Err(bad(format!(
                    "an output of {} bytes, over the job's limit of {}",
                    r.output.len(),
                    limits.max_output()
                )));
            }
            Ok(Inbound::Report {
                node: node(r.node, nodes)?,
                epoch: epoch(r.epoch)?,
                position: r.position,
                output: r.output,
            })
        }
        Body::Heartbeat(h) => Ok(Inbound::Heartbeat {
            node: node(h.node, nodes)?,
            epoch: epoch(h.epoch)?,
        }),
    }
}

/// A checked message from the leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// Start at `position`.
    Assign {
        /// Where to start.
        position: u64,
        /// The queue's length.
        queue_len: u64,
    },
    /// The node is committed up to `position`.
    Committed {
        /// Committed progress.
        position: u64,
        /// The whole queue is committed.
        node_done: bool,
    },
    /// The claim is over.
    Fenced(String),
}

/// Checks a message from the leader to the worker holding `(node, epoch)`.
///
/// # Errors
///
/// [`ClusterError::Protocol`] for an empty message or one about another claim.
pub fn check_leader_message(
    msg: proto::LeaderMessage,
    node: usize,
    epoch: i64,
    leader_epoch: i64,
) -> Result<Outbound, ClusterError> {
    use proto::leader_message::Body as B;
    match msg
        .body
        .ok_or_else(|| bad("an empty message from the leader"))?
    {
        B::Assign(a) => {
            if a.node != node as u64 || a.epoch != epoch || a.leader_epoch != leader_epoch {
                return Err(bad("an Assign for another claim or leader"));
            }
            if a.position > a.queue_len {
                return Err(bad("an Assign past the end of the queue"));
            }
            Ok(Outbound::Assign {
                position: a.position,
                queue_len: a.queue_len,
            })
        }
        B::Committed(c) => {
            if c.node != node as u64 {
                return Err(bad("a Committed for another node"));
            }
            Ok(Outbound::Committed {
                position: c.position,
                node_done: c.node_done,
            })
        }
        B::Fenced(f) => Ok(Outbound::Fenced(string("reason", f.reason)?)),
    }
}

/// Builders for the messages this side sends.
pub mod build {
    use crate::proto::{self, leader_message, worker_message};

    /// A Hello.
    #[allow(clippy::too_many_arguments)] // One argument per field of the message.
    pub fn hello(
        job: &str,
        spec_revision: i64,
        leader_epoch: i64,
        node: usize,
        epoch: i64,
        worker: &str,
    ) -> proto::WorkerMessage {
        proto::WorkerMessage {
            body: Some(worker_message::Body::Hello(proto::Hello {
                job: job.to_owned(),
                protocol: crate::spec::PROTOCOL,
                version: crate::spec::VERSION.to_owned(),
                spec_revision,
                leader_epoch,
                node: node as u64,
                epoch,
                worker: worker.to_owned(),
            })),
        }
    }

    /// A Report.
    pub fn report(node: usize, epoch: i64, position: u64, output: Vec<u8>) -> proto::WorkerMessage {
        proto::WorkerMessage {
            body: Some(worker_message::Body::Report(proto::Report {
                node: node as u64,
                epoch,
                position,
                output,
            })),
        }
    }

    /// A Heartbeat.
    pub fn heartbeat(node: usize, epoch: i64) -> proto::WorkerMessage {
        proto::WorkerMessage {
            body: Some(worker_message::Body::Heartbeat(proto::Heartbeat {
                node: node as u64,
                epoch,
            })),
        }
    }

    /// An Assign.
    pub fn assign(
        node: usize,
        epoch: i64,
        position: u64,
        queue_len: u64,
        leader_epoch: i64,
    ) -> proto::LeaderMessage {
        proto::LeaderMessage {
            body: Some(leader_message::Body::Assign(proto::Assign {
                node: node as u64,
                epoch,
                position,
                queue_len,
                leader_epoch,
            })),
        }
    }

    /// A Committed.
    pub fn committed(node: usize, position: u64, node_done: bool) -> proto::LeaderMessage {
        proto::LeaderMessage {
            body: Some(leader_message::Body::Committed(proto::Committed {
                node: node as u64,
                position,
                node_done,
            })),
        }
    }

    /// A Fenced.
    pub fn fenced(reason: impl Into<String>) -> proto::LeaderMessage {
        proto::LeaderMessage {
            body: Some(leader_message::Body::Fenced(proto::Fenced {
                reason: reason.into(),
            })),
        }
    }
}
