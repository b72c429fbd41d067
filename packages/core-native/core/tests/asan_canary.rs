//! A planted use-after-free, compiled only with `--cfg mmsb_asan_canary`.
//! scripts/asan.sh builds it first and requires AddressSanitizer to report
//! it, which proves that a real finding would fail the run.
#![cfg(mmsb_asan_canary)]

#[test]
fn reads_freed_page_memory() {
    let page = vec![7u8; 64].into_boxed_slice();
    let pointer = page.as_ptr();
    drop(page);
    // Safety: none; this is the defect the sanitizer must catch.
    let byte = unsafe { std::ptr::read_volatile(pointer) };
    assert_eq!(byte, 7);
}
