//! Replay holds what a record's bytes claim one delta at a time. Checking
//! and replaying a wave record holds nothing per output: a forged record
//! whose 100 KB zstd frame decompresses to a 1 GiB body of 2-byte outputs
//! must not claim a decoded delta (80 bytes) for each of its 2^29 outputs,
//! 43 GB, which aborted the process opening the directory. A deltas record
//! expands one run-length coded mask at a time: a few bytes of runs claim up
//! to 512 MiB, and a forged record claiming thousands of them must be refused
//! at its first, not expanded whole.
//! A test binary of its own: it counts every allocation of the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mmsb_core::log::body::decode;
use mmsb_core::log::record::RecordKind;
use mmsb_core::state::nothing;
use mmsb_core::{varint, ErrorCode, Location, State};

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

/// One test runs at a time: the counter is the process's.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

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
    let _alone = alone();
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

/// A deltas body of `count` sparse deltas to page 1 whose masks are
/// run-length coded (kind 4): one run of `mask_len` zero bytes, no packed bytes.
fn zero_runs_body(count: u32, mask_len: u32) -> Vec<u8> {
    let mut body = b"MDB1".to_vec();
    body.extend_from_slice(&count.to_le_bytes());
    for _ in 0..count {
        body.extend_from_slice(&1u64.to_le_bytes());
        body.extend_from_slice(&[4, 0, 0, 0]);
        let mut runs = Vec::new();
        varint::put(u64::from(mask_len), &mut runs);
        runs.push(0);
        body.extend_from_slice(&(runs.len() as u32).to_le_bytes());
        body.extend_from_slice(&runs);
        body.extend_from_slice(&mask_len.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
    }
    body
}

#[test]
fn a_deltas_record_expands_one_coded_mask_at_a_time() {
    let _alone = alone();
    const DELTAS: u32 = 64;
    let mut state = State::new();
    state.create_pages(1, 8, Location::Cpu, nothing).unwrap();
    // 64 masks of 1 MiB claimed in 1.3 KB: expanded whole, 64 MiB.
    let hostile = zero_runs_body(DELTAS, 1 << 20);
    let used = allocated_by(|| {
        let change = decode(RecordKind::Deltas, &hostile).unwrap();
        let error = state.apply_change(&change).unwrap_err();
        assert_eq!(error.code, ErrorCode::DeltaSizeMismatch, "{}", error.message);
        assert!(error.message.starts_with("batch delta 0:"), "{}", error.message);
    });
    assert!(
        used < 4 << 20,
        "{used} bytes for a refused batch of {DELTAS} masks of 1 MiB"
    );
    assert_eq!(
        state.page(1).unwrap().epoch(),
        0,
        "nothing of the refused batch applied"
    );
    let valid = zero_runs_body(DELTAS, 1);
    let change = decode(RecordKind::Deltas, &valid).unwrap();
    state.apply_change(&change).unwrap();
    assert_eq!(state.read(1, 0, 8).unwrap(), [0; 8], "zero masks write nothing");
    assert_eq!(state.page(1).unwrap().epoch(), u64::from(DELTAS));
}
