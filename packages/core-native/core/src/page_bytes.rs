//! The memory of one page: a reference-counted byte buffer that zero-copy
//! views may share with the bus.
//!
//! Invariants:
//! - The length is fixed at allocation; a page's size never changes.
//! - Only the owning `State`, through `&mut`, writes the bytes. Views exported
//!   to JavaScript read them on the same thread between calls into the core,
//!   so a write and a read never overlap in time.
//! - A view keeps the buffer alive after its page is released: the memory is
//!   freed when the last holder drops it, so a view can never alias another
//!   page's memory.

use std::cell::UnsafeCell;
use std::sync::Arc;

/// One byte that may be written through a shared reference.
#[repr(transparent)]
pub struct SharedByte(UnsafeCell<u8>);

// Safety: writes go through `PageBytes::bytes_mut`, whose contract gives the
// writer exclusive access for the duration of the write (see module docs).
unsafe impl Sync for SharedByte {}

#[derive(Clone)]
pub struct PageBytes(Arc<[SharedByte]>);

impl PageBytes {
    /// A zero-filled buffer of `size` bytes (the allocator hands out zeroed
    /// memory lazily, so large pages cost nothing until written).
    pub fn zeroed(size: usize) -> PageBytes {
        let uninit = Arc::<[SharedByte]>::new_zeroed_slice(size);
        // Safety: an all-zero `UnsafeCell<u8>` is a valid zero byte.
        PageBytes(unsafe { uninit.assume_init() })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        // Safety: `SharedByte` is a transparent `u8`; no write runs while the
        // returned borrow of `self` lives, because writes need `&mut self`.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), self.0.len()) }
    }

    /// The bytes for writing. Other holders of this buffer (views) see the
    /// write; that is what makes them live views rather than snapshots.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // Safety: `&mut self` is the only writer (module invariants); the
        // cells make the shared aliasing of views legal.
        unsafe { std::slice::from_raw_parts_mut(UnsafeCell::raw_get(self.0.as_ptr().cast()), self.0.len()) }
    }

    /// A pointer for exporting a view; valid while any clone of `self` lives.
    pub fn as_ptr(&self) -> *mut u8 {
        UnsafeCell::raw_get(self.0.as_ptr().cast())
    }
}
