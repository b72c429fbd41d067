//! The heap backend: one reference-counted allocation per page, of any size.
//! A page holds its `Arc<[SharedByte]>` as a thin pointer and a u32 length,
//! so that its memory handle stays 16 bytes; views hold the `Arc` itself.

use std::ptr::NonNull;
use std::sync::Arc;

use super::{Backend, PageMemory, Repr, SharedByte};
use crate::error::Result;
use crate::page::PageId;

pub(super) struct Heap;

impl Backend for Heap {
    fn allocate(&mut self, _id: PageId, size: usize) -> Result<PageMemory> {
        // The allocator hands out zeroed memory lazily, so large pages cost
        // nothing until written.
        let uninit = Arc::<[SharedByte]>::new_zeroed_slice(size);
        // Safety: an all-zero `UnsafeCell<u8>` is a valid zero byte.
        let bytes = unsafe { uninit.assume_init() };
        let len = u32::try_from(size).expect("page sizes are at most u32::MAX");
        let first = NonNull::new(Arc::into_raw(bytes).cast_mut().cast::<SharedByte>()).expect("Arc data is not null");
        Ok(PageMemory(Repr::Heap { first, len }))
    }
}

/// A new reference to the allocation whose data starts at `first`.
pub(super) fn share(first: NonNull<SharedByte>, len: u32) -> Arc<[SharedByte]> {
    let raw = std::ptr::slice_from_raw_parts(first.as_ptr().cast_const(), len as usize);
    // Safety: `raw` is what `Arc::into_raw` gave in `allocate`, and the page
    // holding it keeps the count above zero while this runs.
    unsafe {
        Arc::increment_strong_count(raw);
        Arc::from_raw(raw)
    }
}

/// Drops the page's reference to the allocation at `first`.
///
/// # Safety
/// `first` and `len` come from `allocate`, and the caller gives up the
/// reference it held.
pub(super) unsafe fn release(first: NonNull<SharedByte>, len: u32) {
    let raw = std::ptr::slice_from_raw_parts(first.as_ptr().cast_const(), len as usize);
    drop(Arc::from_raw(raw));
}
