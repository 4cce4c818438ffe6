//! The etcd control layer: connection with retries across endpoints, leases that fence
//! their holder, leader election, watches, and the job's fenced transactions.

mod control;
mod election;
mod lease;
mod pool;
mod watch;

pub use control::{Claim, ClaimOutcome, CommitOutcome, JobControl, NodesView, Versioned};
pub use election::{campaign, current_leader, still_leader, LeaderInfo, Leadership};
pub use lease::{ensure_valid, Lease, SELF_FENCE};
pub use pool::{Etcd, EtcdOptions};
pub use watch::{watch_prefix, KeyEvent, WatchItem};
