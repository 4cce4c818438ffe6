//! Distributed mode of the snapstate coordinator: worker processes on many machines and
//! a highly available leader, coordinated through etcd, with a gRPC stream from each
//! worker to the leader.
//!
//! Without the `distributed` feature this crate holds only what needs no system
//! package: the job's keys in etcd, the spec and checkpoint pointer formats, the store's
//! file formats and the leader's live progress table. The `distributed` feature adds
//! the etcd control layer, the gRPC protocol and the coordinator and worker processes
//! (it needs `protoc` to build and etcd to run), with mutual TLS between every process
//! (`tls`, `net`) or, without certificates, loopback only. See `docs/distributed.md` and
//! `docs/security.md`.

mod claim;
mod error;
mod job;
mod keys;
mod limits;
mod log;
mod paths;
mod plan;
mod pointer;
mod spec;
mod store;
mod table;

#[cfg(feature = "distributed")]
pub mod etcd;
#[cfg(feature = "harness")]
pub mod harness;
#[cfg(feature = "distributed")]
mod leader;
#[cfg(feature = "distributed")]
pub mod metrics;
#[cfg(feature = "distributed")]
pub mod net;
#[cfg(feature = "wire")]
pub mod proto;
#[cfg(feature = "distributed")]
pub mod tls;
#[cfg(feature = "wire")]
pub mod wire;
#[cfg(feature = "distributed")]
mod worker;

pub use claim::{ClaimHolder, MAX_CLAIM_BYTES};
pub use error::ClusterError;
pub use job::{decode_output, decode_outputs, encode_output, JobKind, OutputCheck};
pub use keys::{JobKeys, MAX_JOB_NAME};
#[cfg(feature = "distributed")]
pub use leader::{run_coordinator, CoordinatorOptions, CoordinatorOutcome};
pub use limits::Limits;
pub use log::Log;
pub use paths::{confine, MAX_ENTRIES};
pub use plan::Plan;
pub use pointer::{Pointer, MAX_POINTER_BYTES, POINTER_FORMAT};
pub use spec::{JobSpec, Runtime, TransportKind, MAX_SPEC_BYTES, PROTOCOL, SPEC_FORMAT, VERSION};
pub use store::{decode_segment, is_store_file_name, Store};
pub use table::{AttachError, Attached, Batch, NodeBatch, ProgressTable, Refusal, Rollback};
#[cfg(feature = "distributed")]
pub use worker::{run_worker, WorkerOptions, WorkerOutcome};
