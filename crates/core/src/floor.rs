//! The floor policy: the oldest readable snapshot, and the pins that hold it back.
//!
//! The floor only rises: retention raises it after every `snap()`, `compact` before it
//! reclaims. It never passes a pinned snapshot or the newest sealed one. Every raise
//! takes the pin lock, which pinning takes too, so a pin and a raise never interleave.

use std::collections::BTreeMap;
use std::ops::DerefMut;

use crossbeam_utils::CachePadded;

use crate::clock::Clock;
use crate::sync::{AtomicU64, Mutex, Ordering};

/// The pinned snapshot ids and how many pins each has. Guarded by the pin lock of
/// [`Floor`], which also serialises every raise of the floor.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    counts: BTreeMap<u64, usize>,
}

impl Pins {
    fn lowest(&self) -> Option<u64> {
        self.counts.keys().next().copied()
    }

    pub(crate) fn add(&mut self, id: u64) {
        *self.counts.entry(id).or_insert(0) += 1;
    }

    pub(crate) fn release(&mut self, id: u64) {
        if let Some(count) = self.counts.get_mut(&id) {
            *count -= 1;
            if *count == 0 {
                self.counts.remove(&id);
            }
        }
    }

    pub(crate) fn live(&self) -> usize {
        self.counts.values().sum()
    }
}

/// The oldest readable snapshot (ids below it were compacted away) and the pin lock.
#[derive(Debug)]
pub(crate) struct Floor {
    oldest: CachePadded<AtomicU64>,
    pins: Mutex<Pins>,
}

impl Floor {
    /// A floor at `oldest`, with no pins.
    pub(crate) fn new(oldest: u64) -> Self {
        Floor {
            oldest: CachePadded::new(AtomicU64::new(oldest)),
            pins: Mutex::new(Pins::default()),
        }
    }

    /// The oldest readable snapshot id.
    #[inline]
    pub(crate) fn get(&self) -> u64 {
        // Acquire: pairs with the Release `fetch_max` in `raise`, so a reader that sees a
        // raised floor also sees the chain cuts made after it.
        self.oldest.load(Ordering::Acquire)
    }

    /// The pin lock. Every raise of the floor takes it, so while it is held the floor
    /// cannot pass a snapshot that was readable when it was taken.
    pub(crate) fn pins(&self) -> impl DerefMut<Target = Pins> + '_ {
        self.pins.lock()
    }

    /// Raises the floor towards `target`, never past a pinned snapshot or the newest
    /// sealed one of `clock`. Returns the floor after the call.
    pub(crate) fn raise(&self, target: u64, clock: &Clock) -> u64 {
        let pins = self.pins.lock();
        // Sealed, not taken (`Clock::taken`): the floor stays on a complete snapshot.
        // `compact` seals its target first; retention raises after `snap()`, which has
        // sealed its id unless a writer was still inside the epoch (then the floor stops
        // one short of the target until a later raise).
        let newest = clock.sealed().saturating_sub(1);
        let target = target.min(newest).min(pins.lowest().unwrap_or(u64::MAX));
        // Release: pairs with the Acquire in `get()`, so readers that see the new floor
        // also see the chain cuts compaction makes after it. Only raised, never lowered,
        // and only under the pin lock.
        let before = self.oldest.fetch_max(target, Ordering::Release);
        before.max(target)
    }
}
