//! `snapstate::SnapshotArray` as a [`Store`].

use snapstate::{SnapshotArray, SnapshotId};

use crate::Store;

/// The lock-free core under test.
#[derive(Debug)]
pub struct SnapState(pub SnapshotArray<u64>);

impl Store for SnapState {
    const NAME: &'static str = "snapstate";
    const LINEARIZABLE: bool = true;

    fn new(n: usize) -> Self {
        SnapState(SnapshotArray::new(n))
    }

    #[inline]
    fn set_state(&self, idx: usize, v: u64) {
        // The workloads only pass indices below `n`; an error would be a harness bug.
        self.0.set_state(idx, v).expect("index in range");
    }

    #[inline]
    fn snap(&self) -> u64 {
        self.0.snap().get()
    }

    #[inline]
    fn fetch_state(&self, idx: usize, s: u64) -> u64 {
        self.0
            .fetch_state(idx, SnapshotId::from(s))
            .expect("index in range, snapshot taken")
    }

    /// The core's bulk read: one pin for every node.
    fn read_snapshot(&self, s: u64, n: usize, out: &mut Vec<u64>) {
        debug_assert_eq!(n, self.0.len());
        *out = self
            .0
            .fetch_all(SnapshotId::from(s))
            .expect("snapshot taken and readable");
    }
}
