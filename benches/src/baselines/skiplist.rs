//! `crossbeam_skiplist::SkipMap` keyed by `(node, epoch)`, and an atomic counter.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_skiplist::SkipMap;
use crossbeam_utils::CachePadded;

use crate::Store;

/// A concurrent ordered map of versions. **Not linearizable**: a writer reads the
/// counter and inserts afterwards with nothing stopping a `snap()` and a reader from
/// running in between (the trap, crate docs).
#[derive(Debug)]
pub struct SkipList {
    map: SkipMap<(u64, u64), u64>,
    counter: CachePadded<AtomicU64>,
}

impl Store for SkipList {
    const NAME: &'static str = "skiplist";
    const LINEARIZABLE: bool = false;

    fn new(_n: usize) -> Self {
        SkipList {
            map: SkipMap::new(),
            counter: CachePadded::new(AtomicU64::new(0)),
        }
    }

    #[inline]
    fn set_state(&self, idx: usize, v: u64) {
        // Acquire: pairs with the AcqRel `fetch_add`; it does not close the trap, which
        // needs the read and the insert to be one step.
        let e = self.counter.load(Ordering::Acquire);
        self.map.insert((idx as u64, e), v);
    }

    #[inline]
    fn snap(&self) -> u64 {
        // AcqRel: the id hand-out; orders nothing else.
        self.counter.fetch_add(1, Ordering::AcqRel)
    }

    #[inline]
    fn fetch_state(&self, idx: usize, s: u64) -> u64 {
        match self.map.range(..=(idx as u64, s)).next_back() {
            Some(e) if e.key().0 == idx as u64 => *e.value(),
            _ => 0,
        }
    }
}
