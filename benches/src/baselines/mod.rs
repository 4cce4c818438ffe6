//! The implementations: snapstate itself and the baselines, each a [`Store`](crate::Store).

mod classic;
mod cow;
mod node_locks;
mod skiplist;
mod snapstate_store;

pub use classic::{Classic, Lock, Locked, PlMutex, PlRwLock, StdMutex};
pub use cow::CowArcSwap;
pub use node_locks::NodeLocks;
pub use skiplist::SkipList;
pub use snapstate_store::SnapState;
