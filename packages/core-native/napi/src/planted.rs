//! Deliberate memory errors, compiled only with the `planted-addon-bugs`
//! feature: `scripts/addon-sanitizers.sh` loads an addon built with it into
//! node and requires AddressSanitizer, LeakSanitizer and valgrind to report
//! them, which proves that a real defect in the addon would fail their runs.
//! Nothing calls these but that script; the normal addon does not contain them.

use napi_derive::napi;

/// Reads the byte just past a heap block of `length` bytes: a
/// heap-buffer-overflow for ASan, an invalid read for valgrind.
#[napi]
pub fn planted_heap_overflow(length: u32) -> u32 {
    let block = vec![1u8; length as usize].into_boxed_slice();
    // Safety: none; this is the defect the sanitizers must catch.
    let byte = unsafe { std::ptr::read_volatile(block.as_ptr().add(block.len())) };
    u32::from(byte)
}

/// Allocates `length` bytes and keeps no pointer to them: a direct leak for
/// LeakSanitizer.
#[napi]
pub fn planted_leak(length: u32) -> u32 {
    let block = vec![2u8; length as usize].into_boxed_slice();
    let address = Box::into_raw(block) as *mut u8 as usize;
    // Only the low bits cross, so nothing that LeakSanitizer scans points at the block.
    (address & 0xff) as u32
}

/// Branches on a byte of a heap block that was never written: a conditional
/// jump on an uninitialised value for valgrind (ASan does not look for these).
#[napi]
pub fn planted_uninitialised_read(length: u32) -> u32 {
    let block = Box::<[u8]>::new_uninit_slice(length.max(1) as usize);
    // Safety: none; this is the defect valgrind must catch.
    let byte = unsafe { std::ptr::read_volatile(block.as_ptr().cast::<u8>()) };
    if byte == 0 {
        0
    } else {
        1
    }
}
