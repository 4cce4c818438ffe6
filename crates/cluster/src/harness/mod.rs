//! Test harness: real etcd processes and child-process guards (feature `harness`).

mod etcd;
mod process;

pub use etcd::{free_port, EtcdCluster, HarnessError};
pub use process::ChildGuard;
