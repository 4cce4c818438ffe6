//! Test harness: real etcd processes and child-process guards (feature `harness`).

mod etcd;
mod netns;
mod process;

pub use etcd::{free_port, EtcdCluster, HarnessError};
pub use netns::{is_root, NetNs};
pub use process::ChildGuard;
