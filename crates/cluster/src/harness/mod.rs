//! Test harness: real etcd processes and child-process guards (feature `harness`).

mod etcd;
mod hostile;
mod netns;
mod pki;
mod process;

pub use etcd::{free_port, EtcdCluster, HarnessError};
pub use hostile::Hostile;
pub use netns::{is_root, NetNs};
pub use pki::{Pki, Role};
pub use process::ChildGuard;
