//! [`Slots`]: the memory of one segment's slots, from the allocator or straight from the
//! kernel.

#[cfg(snapstate_loom)]
use crate::sync::LoomCell;
use crate::sync::{AtomicU32, AtomicU64};

/// The slots of one segment: `cap` 32-bit tags and `cap` 64-bit words, all zero, in one
/// block that never moves.
///
/// On std the block is one allocation: tags first, then words on their own cache lines.
/// Blocks up to 4 KiB are cache-line aligned, so no two nodes' slots share a line
/// (writers of distinct nodes never contend). Blocks from 64 KiB are mapped straight
/// from the kernel on Unix (`mmap`), so pages the log never reaches are never touched
/// and never become resident; the allocator's `calloc` would zero many of them eagerly.
/// Under loom the atomics are constructed one by one, beside a liveness probe: a loom
/// cell that every tag or word access reads and the drop writes, so a thread that
/// touches a segment's slots without a happens-before edge to its free (a writer that
/// compaction's barrier missed, a reader that was not pinned) fails the model with
/// "Causality violation". loom does not notice an access to a dropped atomic by itself.
pub(crate) struct Slots {
    #[cfg(not(snapstate_loom))]
    block: std::ptr::NonNull<u8>,
    #[cfg(not(snapstate_loom))]
    cap: usize,
    #[cfg(snapstate_loom)]
    tags: Box<[AtomicU32]>,
    #[cfg(snapstate_loom)]
    words: Box<[AtomicU64]>,
    #[cfg(snapstate_loom)]
    live: LoomCell<()>,
}

#[cfg(not(snapstate_loom))]
const MAP_FROM: usize = 64 << 10;

#[cfg(not(snapstate_loom))]
impl Slots {
    /// Where the words start: after the tags, on a cache line of their own.
    fn words_at(cap: usize) -> usize {
        (cap * 4).next_multiple_of(64)
    }

    fn size(cap: usize) -> usize {
        Self::words_at(cap) + cap * 8
    }

    fn layout(cap: usize) -> std::alloc::Layout {
        let size = Self::size(cap);
        let align = if size <= 4096 { 64 } else { 8 };
        std::alloc::Layout::from_size_align(size.next_multiple_of(align), align)
            .expect("segment layout")
    }

    fn mapped(cap: usize) -> bool {
        cfg!(all(unix, not(miri))) && Self::size(cap) >= MAP_FROM
    }

    pub(crate) fn new(cap: usize) -> Self {
        assert!(cap > 0 && cap <= usize::MAX / 16, "segment capacity");
        let block = if Self::mapped(cap) {
            map_zeroed(Self::size(cap))
        } else {
            let layout = Self::layout(cap);
            // SAFETY: the layout has a non-zero size (`cap > 0`).
            let raw = unsafe { std::alloc::alloc_zeroed(layout) };
            std::ptr::NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
        };
        Slots { block, cap }
    }

    /// Tag `i`.
    ///
    /// # Safety
    ///
    /// `i < cap`.
    #[inline]
    pub(crate) unsafe fn tag(&self, i: usize) -> &AtomicU32 {
        debug_assert!(i < self.cap);
        // SAFETY: the block holds `cap` tags from offset 0 (aligned: the block is at
        // least 8-aligned), zero-initialised, and all-zero bytes are a valid `AtomicU32`
        // (same representation as `u32`); `i < cap` (caller).
        unsafe { &*self.block.as_ptr().cast::<AtomicU32>().add(i) }
    }

    /// All `cap` tags, for loops that would otherwise reload the block pointer after
    /// every Acquire load (a binary search).
    #[inline]
    pub(crate) fn tags(&self) -> &[AtomicU32] {
        // SAFETY: the block holds `cap` zero-initialised tags from offset 0, 8-aligned, and
        // all-zero bytes are valid `AtomicU32`s; the block lives as long as `self`. The
        // pointer keeps the whole block's provenance (never narrowed through a reference).
        unsafe { std::slice::from_raw_parts(self.block.as_ptr().cast::<AtomicU32>(), self.cap) }
    }

    /// Word `i`.
    ///
    /// # Safety
    ///
    /// `i < cap`.
    #[inline]
    pub(crate) unsafe fn word(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < self.cap);
        // SAFETY: the block holds `cap` words from `words_at(cap)`, a multiple of 64, so
        // 8-aligned; zero bytes are a valid `AtomicU64`; `i < cap` (caller).
        unsafe {
            &*self
                .block
                .as_ptr()
                .add(Self::words_at(self.cap))
                .cast::<AtomicU64>()
                .add(i)
        }
    }

    /// Bytes reserved for the block.
    pub(crate) fn bytes(&self) -> usize {
        if Self::mapped(self.cap) {
            Self::size(self.cap).next_multiple_of(4096)
        } else {
            Self::layout(self.cap).size()
        }
    }
}

/// `size` bytes of fresh anonymous memory: zero, and resident only once touched.
#[cfg(all(not(snapstate_loom), unix, not(miri)))]
fn map_zeroed(size: usize) -> std::ptr::NonNull<u8> {
    // SAFETY: an anonymous private mapping with no address hint; the result is checked.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        std::alloc::handle_alloc_error(
            std::alloc::Layout::from_size_align(size, 4096).expect("mapping layout"),
        );
    }
    std::ptr::NonNull::new(raw.cast()).expect("mmap never returns null on success")
}

#[cfg(all(not(snapstate_loom), not(all(unix, not(miri)))))]
fn map_zeroed(_: usize) -> std::ptr::NonNull<u8> {
    unreachable!("`Slots::mapped` is false without Unix")
}

#[cfg(not(snapstate_loom))]
impl Drop for Slots {
    fn drop(&mut self) {
        if Self::mapped(self.cap) {
            #[cfg(all(unix, not(miri)))]
            // SAFETY: mapped by `map_zeroed` with this size; nothing refers to it now
            // (`&mut self`). A failed unmap only leaks the range.
            unsafe {
                libc::munmap(self.block.as_ptr().cast(), Self::size(self.cap));
            }
        } else {
            // SAFETY: allocated in `new` with this layout; atomics need no drop.
            unsafe { std::alloc::dealloc(self.block.as_ptr(), Self::layout(self.cap)) };
        }
    }
}

// SAFETY: `Slots` owns its block like a `Box<[u8]>` would, and hands out only shared
// references to atomics, which are `Send + Sync`.
#[cfg(not(snapstate_loom))]
unsafe impl Send for Slots {}
// SAFETY: as above.
#[cfg(not(snapstate_loom))]
unsafe impl Sync for Slots {}

#[cfg(snapstate_loom)]
impl Slots {
    pub(crate) fn new(cap: usize) -> Self {
        Slots {
            tags: (0..cap).map(|_| AtomicU32::new(0)).collect(),
            words: (0..cap).map(|_| AtomicU64::new(0)).collect(),
            live: LoomCell::new(()),
        }
    }

    /// Tag `i`.
    ///
    /// # Safety
    ///
    /// `i < cap`.
    #[inline]
    pub(crate) unsafe fn tag(&self, i: usize) -> &AtomicU32 {
        self.live.with(|_| ());
        // SAFETY: `i < cap` (caller).
        unsafe { self.tags.get_unchecked(i) }
    }

    /// Word `i`.
    ///
    /// # Safety
    ///
    /// `i < cap`.
    #[inline]
    pub(crate) unsafe fn word(&self, i: usize) -> &AtomicU64 {
        self.live.with(|_| ());
        // SAFETY: `i < cap` (caller).
        unsafe { self.words.get_unchecked(i) }
    }

    /// All tags. The liveness probe is read once, here: the caller's accesses through the
    /// slice follow it in the same thread with no synchronisation in between, so a free
    /// not ordered after them is not ordered after the probe either.
    #[inline]
    pub(crate) fn tags(&self) -> &[AtomicU32] {
        self.live.with(|_| ());
        &self.tags
    }

    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.tags) + std::mem::size_of_val(&*self.words)
    }
}

#[cfg(snapstate_loom)]
impl Drop for Slots {
    fn drop(&mut self) {
        // The free, as the probe sees it: a write that every earlier access must
        // happen-before.
        self.live.with_mut(|_| ());
    }
}

impl std::fmt::Debug for Slots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slots")
    }
}
