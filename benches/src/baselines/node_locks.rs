//! A `parking_lot::Mutex` per node (each on its own cache line) and an atomic counter.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

use crate::Store;

/// One node's lock and its `(epoch, value)` log, on a cache line of its own.
type NodeLog = CachePadded<Mutex<Vec<(u64, u64)>>>;

/// Per-node locks around per-node `(epoch, value)` logs; `snap()` is one `fetch_add`.
///
/// Linearizable because a writer reads the counter while it holds the node's lock (see
/// the crate docs); reading it before taking the lock would be the trap.
#[derive(Debug)]
pub struct NodeLocks {
    nodes: Box<[NodeLog]>,
    counter: CachePadded<AtomicU64>,
}

impl Store for NodeLocks {
    const NAME: &'static str = "node-locks";
    const LINEARIZABLE: bool = true;

    fn new(n: usize) -> Self {
        NodeLocks {
            nodes: (0..n)
                .map(|_| CachePadded::new(Mutex::new(Vec::new())))
                .collect(),
            counter: CachePadded::new(AtomicU64::new(0)),
        }
    }

    #[inline]
    fn set_state(&self, idx: usize, v: u64) {
        let mut log = self.nodes[idx].lock();
        // Acquire: pairs with the AcqRel `fetch_add` in `snap`; read under the node lock
        // so a reader that locked the node after `snap()` returned `e` forces `e + 1`.
        let e = self.counter.load(Ordering::Acquire);
        match log.last_mut() {
            Some(last) if last.0 == e => last.1 = v,
            _ => log.push((e, v)),
        }
    }

    #[inline]
    fn snap(&self) -> u64 {
        // AcqRel: a fetch that follows this snap and locks a node before a writer does
        // makes the writer's counter load (after the lock hand-over) see the increment.
        self.counter.fetch_add(1, Ordering::AcqRel)
    }

    #[inline]
    fn fetch_state(&self, idx: usize, s: u64) -> u64 {
        let log = self.nodes[idx].lock();
        match log.partition_point(|&(e, _)| e <= s) {
            0 => 0,
            k => log[k - 1].1,
        }
    }
}
