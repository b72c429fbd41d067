//! Checking and replaying a wave record holds nothing per output: a forged
//! record whose 100 KB zstd frame decompresses to a 1 GiB body of 2-byte
//! outputs must not claim a decoded delta (80 bytes) for each of its 2^29
//! outputs, 43 GB, which aborted the process opening the directory.
//! A test binary of its own: it counts every allocation of the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mmsb_core::log::body::decode;
use mmsb_core::log::record::RecordKind;
use mmsb_core::state::nothing;
use mmsb_core::{ErrorCode, Location, State};

struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // Safety: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Safety: the caller's contract is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes allocated while `run` runs.
fn allocated_by(run: impl FnOnce()) -> usize {
    let before = ALLOCATED.load(Ordering::Relaxed);
    run();
    ALLOCATED.load(Ordering::Relaxed) - before
}

/// A wave body of `count` outputs to consecutive pages from 1, each `len` bytes.
fn wave_body(count: u32, len: u8) -> Vec<u8> {
    let mut body = count.to_le_bytes().to_vec();
    for _ in 0..count {
        body.extend_from_slice(&[2, len]);
        body.extend(std::iter::repeat_n(7, len as usize));
    }
    body
}

#[test]
fn wave_records_are_checked_and_replayed_without_memory_per_output() {
    const OUTPUTS: u32 = 1 << 16;
    let mut state = State::new();
    state
        .create_pages(u64::from(OUTPUTS), 1, Location::Cpu, nothing)
        .unwrap();
    let hostile = wave_body(OUTPUTS, 0);
    let used = allocated_by(|| {
        let change = decode(RecordKind::Wave, &hostile).unwrap();
        let error = state.apply_change(&change).unwrap_err();
        assert_eq!(error.code, ErrorCode::DeltaSizeMismatch, "{}", error.message);
    });
    assert!(used < 4096, "{used} bytes for a refused wave of {OUTPUTS} outputs");
    let valid = wave_body(OUTPUTS, 1);
    let used = allocated_by(|| {
        let change = decode(RecordKind::Wave, &valid).unwrap();
        state.apply_change(&change).unwrap();
    });
    assert!(used < 4096, "{used} bytes for a wave of {OUTPUTS} outputs");
    assert_eq!(state.read(OUTPUTS.into(), 0, 1).unwrap(), [7]);
}
