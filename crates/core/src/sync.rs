//! The one place the core gets its atomics, fences and thread-locals from.
//!
//! Under `--cfg loom` everything comes from [`loom`], so the model checker sees every
//! shared access; otherwise from `std`. No operation differs between the two branches:
//! the same orderings and the same fences are checked that ship.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::thread_local;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::thread_local;

pub(crate) use std::sync::atomic::Ordering;

/// A mutex for the rare paths that take one (pins and compaction; never `set_state`,
/// `snap` without retention, or the reads): `parking_lot` on std, loom's under loom.
#[derive(Debug, Default)]
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex {
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    #[cfg(not(loom))]
    pub(crate) fn lock(&self) -> parking_lot::MutexGuard<'_, T> {
        self.inner.lock()
    }

    #[cfg(loom)]
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
    #[cfg(not(loom))]
    step: u32,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn snooze(&mut self) {
        #[cfg(loom)]
        loom::thread::yield_now();
        #[cfg(not(loom))]
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

/// A fixed run of `len` atomics, all zero, that never moves.
///
/// On std it is one zeroed allocation. Runs up to 4 KiB are cache-line aligned, so no two
/// nodes' slots share a line (writers of distinct nodes never contend); longer runs ask
/// for the atomic's own alignment, which the system allocator serves with `calloc`, so
/// pages the log never reaches are never touched (and never become resident). A
/// zeroed allocation with a larger alignment is zeroed eagerly, page by page.
pub(crate) struct Zeroed<A> {
    #[cfg(not(loom))]
    ptr: std::ptr::NonNull<A>,
    #[cfg(not(loom))]
    len: usize,
    #[cfg(loom)]
    items: Box<[A]>,
}

/// Atomics that are valid when all their bytes are zero, constructible for loom.
pub(crate) trait ZeroAtomic: Sized {
    /// A new atomic holding zero.
    // Only loom builds construct the atomics one by one; std zeroes the allocation.
    #[cfg_attr(not(loom), allow(dead_code))]
    fn zero() -> Self;
}

impl ZeroAtomic for AtomicU64 {
    fn zero() -> Self {
        AtomicU64::new(0)
    }
}

impl ZeroAtomic for AtomicU32 {
    fn zero() -> Self {
        AtomicU32::new(0)
    }
}

#[cfg(not(loom))]
impl<A> Zeroed<A> {
    fn layout(len: usize) -> std::alloc::Layout {
        let size = std::mem::size_of::<A>()
            .checked_mul(len.max(1))
            .expect("segment size overflows");
        let align = if size <= 4096 {
            64
        } else {
            std::mem::align_of::<A>()
        };
        std::alloc::Layout::from_size_align(size.next_multiple_of(align), align)
            .expect("segment layout")
    }
}

#[cfg(not(loom))]
impl<A: ZeroAtomic> Zeroed<A> {
    pub(crate) fn new(len: usize) -> Self {
        let layout = Self::layout(len);
        // SAFETY: the layout has a non-zero size (`len.max(1)` items of a non-zero-sized
        // atomic).
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let Some(ptr) = std::ptr::NonNull::new(raw.cast::<A>()) else {
            std::alloc::handle_alloc_error(layout)
        };
        Zeroed { ptr, len }
    }

    /// The `i`th atomic.
    ///
    /// # Safety
    ///
    /// `i < len`.
    #[inline]
    pub(crate) unsafe fn get_unchecked(&self, i: usize) -> &A {
        debug_assert!(i < self.len);
        // SAFETY: `i < len` (caller); the allocation holds `len` zero-initialised items,
        // and all-zero bytes are a valid atomic holding zero (`ZeroAtomic`, implemented
        // only for `AtomicU32`/`AtomicU64`, whose representation is their integer's).
        unsafe { &*self.ptr.as_ptr().add(i) }
    }

    /// Bytes allocated.
    pub(crate) fn bytes(&self) -> usize {
        Self::layout(self.len).size()
    }
}

#[cfg(not(loom))]
impl<A> Drop for Zeroed<A> {
    fn drop(&mut self) {
        let layout = Self::layout(self.len);
        // SAFETY: allocated in `new` with this same layout; atomics need no drop.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr().cast(), layout) };
    }
}

#[cfg(loom)]
impl<A: ZeroAtomic> Zeroed<A> {
    pub(crate) fn new(len: usize) -> Self {
        Zeroed {
            items: (0..len).map(|_| A::zero()).collect(),
        }
    }

    /// The `i`th atomic.
    ///
    /// # Safety
    ///
    /// `i < len`.
    #[inline]
    pub(crate) unsafe fn get_unchecked(&self, i: usize) -> &A {
        // SAFETY: `i < len` (caller).
        unsafe { self.items.get_unchecked(i) }
    }

    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.items)
    }
}

// SAFETY: `Zeroed` owns its atomics like a `Box<[A]>` would; atomics are `Send + Sync`.
#[cfg(not(loom))]
unsafe impl<A: Send + Sync> Send for Zeroed<A> {}
// SAFETY: as above: shared access only hands out `&A`, and `A: Sync`.
#[cfg(not(loom))]
unsafe impl<A: Send + Sync> Sync for Zeroed<A> {}

impl<A> std::fmt::Debug for Zeroed<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Zeroed")
    }
}
