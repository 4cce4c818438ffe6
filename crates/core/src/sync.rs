//! The one place the core gets its atomics, fences, thread-locals, locks and prefetch hints
//! from.
//!
//! Under `--cfg snapstate_loom` (the crate's own name, so that no dependency's
//! `cfg(loom)` switches with it) everything comes from [`loom`], so the model checker sees
//! every shared access; otherwise from `std`. No operation differs between the two
//! branches: the same orderings and the same fences are checked that ship (the prefetch
//! hint, which reads nothing and changes no value, does nothing under loom).

/// A cell loom tracks, for probes in the modelled build only (see `slots`).
#[cfg(snapstate_loom)]
pub(crate) use loom::cell::UnsafeCell as LoomCell;
#[cfg(snapstate_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(snapstate_loom)]
pub(crate) use loom::sync::Arc;
#[cfg(snapstate_loom)]
pub(crate) use loom::thread_local;

#[cfg(not(snapstate_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(snapstate_loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(snapstate_loom))]
pub(crate) use std::thread_local;

pub(crate) use std::sync::atomic::Ordering;

/// Asks the CPU to start loading the cache line that holds `p`, for a read soon after.
///
/// A hint with no effect on what the program computes: it reads nothing and cannot
/// fault, so `p` may be any address (the callers pass in-bounds ones). Under loom and
/// Miri, which model memory accesses rather than caches, it does nothing.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(all(target_arch = "x86_64", not(snapstate_loom), not(miri)))]
    // SAFETY: SSE, the intrinsic's target feature, is part of the x86_64 baseline, and
    // a prefetch accesses no memory in the program's sense, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(all(target_arch = "x86_64", not(snapstate_loom), not(miri))))]
    let _ = p;
}

/// A mutex for the rare paths that take one (pins and compaction; never `set_state`,
/// `snap` without retention, or the reads): `parking_lot` on std, loom's under loom.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(snapstate_loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(snapstate_loom)]
    inner: loom::sync::Mutex<T>,
}

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex {
            #[cfg(not(snapstate_loom))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(snapstate_loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    #[cfg(not(snapstate_loom))]
    pub(crate) fn lock(&self) -> parking_lot::MutexGuard<'_, T> {
        self.inner.lock()
    }

    #[cfg(snapstate_loom)]
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        // A panic while holding one of these locks leaves only plain data behind
        // (a pin count map, a unit), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One step of a wait for another thread's few remaining instructions.
///
/// Under loom this yields, so the model explores the other thread's progress instead of
/// spinning forever; on real threads it spins briefly, then yields the core.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    #[cfg(not(snapstate_loom))]
    step: u32,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn snooze(&mut self) {
        #[cfg(snapstate_loom)]
        loom::thread::yield_now();
        #[cfg(not(snapstate_loom))]
        {
            if self.step < 6 {
                for _ in 0..(1u32 << self.step) {
                    std::hint::spin_loop();
                }
                self.step += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}
