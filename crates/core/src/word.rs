//! How a value of type `T` lives in a 64-bit version word.
//!
//! Every version slot holds its value in one `AtomicU64`, so that a reader racing an
//! in-place overwrite is never a data race, only a choice of which store it observes.
//!
//! - **Inline** types (the primitive integers, `bool`, `char`, `f32`, `f64`) are stored as
//!   their bits, zero-extended. Copying them out is a load; overwriting is a store;
//!   nothing is allocated or freed.
//! - Every other type is **boxed**: the word is the address of a `Box<T>`. A new version
//!   allocates one box; a replaced box is handed to the array's crossbeam-epoch collector
//!   and freed once no pinned reader can still be cloning from it.
//!
//! Whether `T` is inline is decided by its `TypeId` and folds to a constant after
//! monomorphisation.

use std::any::TypeId;
use std::marker::PhantomData;
use std::mem::size_of;

/// The encoding of `T` into a version word. Zero-sized; all functions are associated.
pub(crate) struct Word<T>(PhantomData<fn() -> T>);

impl<T: Clone + Send + Sync + 'static> Word<T> {
    /// Whether `T` is stored as its own bits rather than behind a box.
    #[inline(always)]
    pub(crate) fn is_inline() -> bool {
        let id = TypeId::of::<T>();
        size_of::<T>() <= size_of::<u64>()
            && (id == TypeId::of::<u64>()
                || id == TypeId::of::<u32>()
                || id == TypeId::of::<u16>()
                || id == TypeId::of::<u8>()
                || id == TypeId::of::<usize>()
                || id == TypeId::of::<i64>()
                || id == TypeId::of::<i32>()
                || id == TypeId::of::<i16>()
                || id == TypeId::of::<i8>()
                || id == TypeId::of::<isize>()
                || id == TypeId::of::<bool>()
                || id == TypeId::of::<char>()
                || id == TypeId::of::<f64>()
                || id == TypeId::of::<f32>())
    }

    /// Turns a value into a word, taking ownership of it.
    #[inline]
    pub(crate) fn encode(value: T) -> u64 {
        if Self::is_inline() {
            let mut bits = 0u64;
            // SAFETY: `is_inline` admits only plain-data types of at most 8 bytes, so
            // writing one into the first bytes of a `u64` is in bounds and copies no
            // ownership; the value has no destructor to skip.
            unsafe { std::ptr::write_unaligned((&mut bits as *mut u64).cast::<T>(), value) };
            bits
        } else {
            let ptr = Box::into_raw(Box::new(value));
            ptr.expose_provenance() as u64
        }
    }

    /// A clone of the value a word holds.
    ///
    /// # Safety
    ///
    /// `word` was produced by [`Word::encode`] for this `T`, and for a boxed `T` the box
    /// has not been freed: the caller holds a guard pinned before the word was loaded, or
    /// owns the word outright.
    #[inline]
    pub(crate) unsafe fn clone_out(word: u64) -> T {
        if Self::is_inline() {
            // SAFETY: the bits were written by `encode` from a valid `T` (caller's
            // contract), and inline types are `Copy` plain data.
            unsafe { std::ptr::read_unaligned((&word as *const u64).cast::<T>()) }
        } else {
            let ptr: *const T = std::ptr::with_exposed_provenance(word as usize);
            // SAFETY: the address came from `Box::into_raw` in `encode` and the box is
            // still alive (caller's contract), so it points to a valid `T`.
            unsafe { (*ptr).clone() }
        }
    }

    /// Compares the value a word holds with `other`.
    ///
    /// # Safety
    ///
    /// As for [`Word::clone_out`].
    #[inline]
    pub(crate) unsafe fn cmp_to(word: u64, other: &T) -> std::cmp::Ordering
    where
        T: Ord,
    {
        if Self::is_inline() {
            // SAFETY: forwarded from the caller; inline values are plain data.
            unsafe { Self::clone_out(word) }.cmp(other)
        } else {
            let ptr: *const T = std::ptr::with_exposed_provenance(word as usize);
            // SAFETY: as in `clone_out`: the box is alive.
            unsafe { (*ptr).cmp(other) }
        }
    }

    /// Takes the value back out of a word that was never shared.
    ///
    /// # Safety
    ///
    /// `word` came from [`Word::encode`] for this `T`, and the caller owns it: no other
    /// thread can reach it and it is not consumed twice.
    pub(crate) unsafe fn into_value(word: u64) -> T {
        if Self::is_inline() {
            // SAFETY: as in `clone_out`; inline values have no ownership to move.
            unsafe { std::ptr::read_unaligned((&word as *const u64).cast::<T>()) }
        } else {
            let ptr: *mut T = std::ptr::with_exposed_provenance_mut(word as usize);
            // SAFETY: the box was leaked by `encode` and is owned by the caller.
            *unsafe { Box::from_raw(ptr) }
        }
    }

    /// Releases what a word owns (nothing, for inline types).
    ///
    /// # Safety
    ///
    /// As for [`Word::into_value`]; `0` (an unwritten word) is accepted and ignored.
    pub(crate) unsafe fn release(word: u64) {
        if !Self::is_inline() && word != 0 {
            // SAFETY: forwarded from the caller.
            drop(unsafe { Self::into_value(word) });
        }
    }
}

#[cfg(all(test, not(snapstate_loom)))]
mod tests {
    use super::Word;

    fn round_trip<T: Clone + Send + Sync + PartialEq + std::fmt::Debug + 'static>(v: T) {
        let w = Word::<T>::encode(v.clone());
        // SAFETY: the word was just encoded and is owned here.
        assert_eq!(unsafe { Word::<T>::clone_out(w) }, v);
        // SAFETY: as above; consumed once.
        assert_eq!(unsafe { Word::<T>::into_value(w) }, v);
    }

    #[test]
    fn inline_and_boxed_values_round_trip() {
        assert!(Word::<u64>::is_inline());
        assert!(Word::<i8>::is_inline());
        assert!(!Word::<String>::is_inline());
        assert!(!Word::<(u32, u32)>::is_inline());
        round_trip(u64::MAX);
        round_trip(-3i8);
        round_trip(-1i64);
        round_trip('λ');
        round_trip(true);
        round_trip(1.5f64);
        round_trip(String::from("progress"));
        round_trip(vec![1u8, 2, 3]);
        round_trip(());
    }
}
