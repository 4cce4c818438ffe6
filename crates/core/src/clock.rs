//! The snapshot clock: the open epoch and the sealed watermark.
//!
//! Two words, each on its own cache line:
//!
//! - `open` is the epoch writers are writing in, which is also the id the next `snap()`
//!   returns. Only `snap()` writes it (one `fetch_add`); writers only read it, so writers
//!   of distinct nodes share it in the `Shared` cache state and never contend.
//! - `sealed` counts the snapshots that are complete: every id below it is readable.
//!   `snap(e)` raises it to `e + 1` (with `fetch_max`) after the writers of epoch `e`
//!   have left. An id in `sealed..open` belongs to a `snap()` still in progress; a reader
//!   that asks for one finishes it (waits for its writers and seals it) rather than
//!   answer `SnapshotNotTaken` (see `Inner::finish_sealing`). So the snapshots *taken*
//!   are `0..open` ([`Clock::taken`]), whether sealed yet or not.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, Ordering};

/// The largest epoch the version tags can carry (they store `epoch + 1` above two flag bits).
pub(crate) const MAX_EPOCH: u64 = (1 << 62) - 2;

#[derive(Debug)]
pub(crate) struct Clock {
    open: CachePadded<AtomicU64>,
    sealed: CachePadded<AtomicU64>,
}

impl Clock {
    /// A clock whose next snapshot is `next` and whose readable ids are `0..next`.
    pub(crate) fn starting_at(next: u64) -> Self {
        Clock {
            open: CachePadded::new(AtomicU64::new(next)),
            sealed: CachePadded::new(AtomicU64::new(next)),
        }
    }

    /// The open epoch, for a writer about to announce it or to check its announcement.
    ///
    /// Relaxed: a writer orders this load against its announcement with its own SeqCst
    /// fence (see `announce`), which is what pairs with the fence in `snap()`.
    #[inline]
    pub(crate) fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// How many snapshots have been taken: ids `0..taken()` have been handed out by
    /// `snap()`. The one definition of "taken", used by `snapshots_taken()`, `stats()`,
    /// `Debug`, the reads and `compact`. It is the open epoch, so a `snap()` still
    /// waiting for its epoch's writers counts (its id is in `sealed()..taken()`), and
    /// whoever needs such an id finishes the sealing itself rather than call it not
    /// taken (see `Inner::finish_sealing` for why counting only sealed snapshots would
    /// not be linearizable).
    #[inline]
    pub(crate) fn taken(&self) -> u64 {
        // Relaxed: a count. A caller that then reads the snapshot goes through
        // `sealed()` (Acquire) or seals it itself after a SeqCst fence.
        self.open.load(Ordering::Relaxed)
    }

    /// Hands out the next snapshot id, closing the epoch of that number.
    ///
    /// # Panics
    ///
    /// After 2^62 - 2 snapshots (centuries at any rate `snap()` can run), since the version
    /// tags could no longer order epochs.
    #[inline]
    pub(crate) fn close_epoch(&self) -> u64 {
        // Relaxed: the caller follows this with a SeqCst fence before it reads the
        // announcements; that fence is what pairs with the writers' fences (`announce`).
        // Nothing else is published by this increment.
        let e = self.open.fetch_add(1, Ordering::Relaxed);
        assert!(e < MAX_EPOCH, "snapstate: snapshot ids exhausted");
        e
    }

    /// Marks every id up to and including `e` readable.
    #[inline]
    pub(crate) fn seal(&self, e: u64) {
        // Release: pairs with the Acquire load in `sealed()`, so a reader that sees
        // `e + 1` also sees every write of the epochs this snap waited out. Every store
        // to `sealed` is this RMW, so later values continue the release sequence.
        self.sealed.fetch_max(e + 1, Ordering::Release);
    }

    /// How many snapshots are complete: ids `0..sealed()` are readable.
    #[inline]
    pub(crate) fn sealed(&self) -> u64 {
        // Acquire: pairs with the Release `fetch_max` in `seal`.
        self.sealed.load(Ordering::Acquire)
    }
}
