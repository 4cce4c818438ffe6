//! [`Slots`]: the memory of one segment's slots, from the allocator or straight from the
//! kernel.

#[cfg(snapstate_loom)]
use crate::sync::LoomCell;
use crate::sync::{AtomicU32, AtomicU64};

/// The slots of one segment: `cap` 32-bit tags and `cap` 64-bit words, all zero, that
/// never move.
///
/// On std they live in one block with the segment's header in front of them (`alloc`
/// takes the header's size), so a segment is one allocation and reading a segment's
/// header brings its first tags with it: `head` bytes, then the tags, then the words.
/// Blocks from 256 B to 4 KiB are cache-line aligned, so no two nodes' segments share a
/// line (writers of distinct nodes never contend); smaller ones (a node's first four
/// versions) take the allocator's own alignment, which keeps a node written once at one
/// small allocation. Blocks from 64 KiB are mapped straight from the kernel on Unix
/// (`mmap`), so pages the log never reaches are never touched and never become resident;
/// the allocator's `calloc` would zero many of them eagerly. The block is freed by its
/// owner (`Slots::free`), which knows the header it holds.
///
/// Under loom the atomics are constructed one by one, beside a liveness probe: a loom
/// cell that every tag or word access reads and the drop writes, so a thread that
/// touches a segment's slots without a happens-before edge to its free (a writer that
/// compaction's barrier missed, a reader that was not pinned) fails the model with
/// "Causality violation". loom does not notice an access to a dropped atomic by itself.
pub(crate) struct Slots {
    #[cfg(not(snapstate_loom))]
    tags: std::ptr::NonNull<AtomicU32>,
    #[cfg(not(snapstate_loom))]
    words: std::ptr::NonNull<AtomicU64>,
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
    /// Where the tags start: after a header of `head` bytes.
    fn tags_at(head: usize) -> usize {
        head.next_multiple_of(8)
    }

    /// Where the words start: after the tags, 8-aligned.
    fn words_at(head: usize, cap: usize) -> usize {
        (Self::tags_at(head) + cap * 4).next_multiple_of(8)
    }

    fn size(head: usize, cap: usize) -> usize {
        Self::words_at(head, cap) + cap * 8
    }

    fn layout(size: usize) -> std::alloc::Layout {
        let align = if (256..=4096).contains(&size) { 64 } else { 16 };
        std::alloc::Layout::from_size_align(size.next_multiple_of(align), align)
            .expect("segment layout")
    }

    fn mapped(size: usize) -> bool {
        cfg!(all(unix, not(miri))) && size >= MAP_FROM
    }

    /// A zeroed block with room for a header of `head` bytes (at most 8-aligned) at its
    /// start, followed by `cap` slots; returns the block and the slots in it. The caller
    /// frees it with [`Slots::free`]`(block, head, cap)`.
    pub(crate) fn alloc(head: usize, cap: usize) -> (std::ptr::NonNull<u8>, Slots) {
        assert!(cap > 0 && cap <= usize::MAX / 32, "segment capacity");
        let size = Self::size(head, cap);
        let block = if Self::mapped(size) {
            map_zeroed(size)
        } else {
            let layout = Self::layout(size);
            // SAFETY: the layout has a non-zero size (`cap > 0`).
            let raw = unsafe { std::alloc::alloc_zeroed(layout) };
            std::ptr::NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
        };
        // SAFETY: both offsets are inside the block of `size` bytes (`size` counts them
        // and the slots after them), and keep the block's provenance.
        let (tags, words) = unsafe {
            (
                block.add(Self::tags_at(head)).cast::<AtomicU32>(),
                block.add(Self::words_at(head, cap)).cast::<AtomicU64>(),
            )
        };
        (block, Slots { tags, words, cap })
    }

    /// Frees a block made by [`Slots::alloc`].
    ///
    /// # Safety
    ///
    /// `block` came from `alloc(head, cap)` with these `head` and `cap`, is not freed yet,
    /// and nothing refers to it any more (its header and slots included).
    pub(crate) unsafe fn free(block: std::ptr::NonNull<u8>, head: usize, cap: usize) {
        let size = Self::size(head, cap);
        if Self::mapped(size) {
            #[cfg(all(unix, not(miri)))]
            // SAFETY: mapped by `map_zeroed` with this size (caller); a failed unmap only
            // leaks the range.
            unsafe {
                libc::munmap(block.as_ptr().cast(), size);
            }
        } else {
            // SAFETY: allocated in `alloc` with this layout (caller); atomics need no drop.
            unsafe { std::alloc::dealloc(block.as_ptr(), Self::layout(size)) };
        }
    }

    /// Bytes reserved for a block of `cap` slots behind a header of `head` bytes.
    pub(crate) fn bytes(head: usize, cap: usize) -> usize {
        let size = Self::size(head, cap);
        if Self::mapped(size) {
            size.next_multiple_of(4096)
        } else {
            Self::layout(size).size()
        }
    }

    /// Tag `i`.
    ///
    /// # Safety
    ///
    /// `i < cap`.
    #[inline]
    pub(crate) unsafe fn tag(&self, i: usize) -> &AtomicU32 {
        debug_assert!(i < self.cap);
        // SAFETY: `tags` points at `cap` zero-initialised, 4-aligned tags inside the live
        // block (see `alloc`), and all-zero bytes are a valid `AtomicU32` (same
        // representation as `u32`); `i < cap` (caller).
        unsafe { self.tags.add(i).as_ref() }
    }

    /// All `cap` tags, for loops that would otherwise reload the pointer after every
    /// Acquire load (a binary search).
    #[inline]
    pub(crate) fn tags(&self) -> &[AtomicU32] {
        // SAFETY: as in `tag`, for all `cap` of them; the block lives as long as `self`
        // is reachable (its owner frees both together), and the pointer keeps the
        // block's provenance.
        unsafe { std::slice::from_raw_parts(self.tags.as_ptr(), self.cap) }
    }

    /// Word `i`.
    ///
    /// # Safety
    ///
    /// `i < cap`.
    #[inline]
    pub(crate) unsafe fn word(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < self.cap);
        // SAFETY: `words` points at `cap` zero-initialised, 8-aligned words inside the
        // live block (see `alloc`); zero bytes are a valid `AtomicU64`; `i < cap`.
        unsafe { self.words.add(i).as_ref() }
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

// SAFETY: `Slots` points into a block its segment owns like a `Box<[u8]>` would, and
// hands out only shared references to atomics, which are `Send + Sync`.
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
