//! Distributed mode of the snapstate coordinator: worker processes on many machines and
//! a highly available leader, coordinated through etcd, with a gRPC stream from each
//! worker to the leader.
//!
//! Without the `distributed` feature this crate holds only what needs no system
//! package: the job's keys in etcd, the spec and checkpoint pointer formats, the store's
//! file formats and the leader's live progress table. The `distributed` feature adds
//! the etcd control layer, the gRPC protocol and the coordinator and worker processes
//! (it needs `protoc` to build and etcd to run). See `docs/distributed.md`.

mod error;
mod keys;

#[cfg(feature = "distributed")]
pub mod etcd;
#[cfg(feature = "harness")]
pub mod harness;

pub use error::ClusterError;
pub use keys::{JobKeys, MAX_JOB_NAME};
