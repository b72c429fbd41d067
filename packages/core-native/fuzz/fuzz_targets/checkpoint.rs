//! Checkpoint files as recovery loads them (checkpoint.rs), full or an
//! incremental one on a base. Input: a mode byte (bit 0 clear: repair the
//! checksums first, so that mutations reach the directory and page parsers
//! behind them), the loaded file's length (u32, little-endian), the loaded
//! file, then its base (what the base LSN in its header names).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mmsb_core::checkpoint::{checkpoint_name, load_checkpoint};
use mmsb_fuzz::{fix_checkpoint_checksums, MemoryFiles};

const LOADED_LSN: u64 = 1 << 20;

fuzz_target!(|input: &[u8]| {
    let (Some(&mode), Some(split)) = (input.first(), input.get(1..5)) else {
        return;
    };
    let rest = &input[5..];
    let split = rest
        .len()
        .min(u32::from_le_bytes(split.try_into().expect("4 bytes")) as usize);
    let (mut loaded, mut base) = (rest[..split].to_vec(), rest[split..].to_vec());
    if mode & 1 == 0 {
        fix_checkpoint_checksums(&mut loaded);
        fix_checkpoint_checksums(&mut base);
    }
    let dir = Path::new("/fuzz/checkpoints");
    let base_lsn = loaded
        .get(16..24)
        .map_or(0, |field| u64::from_le_bytes(field.try_into().expect("8 bytes")));
    let files = MemoryFiles::with([
        (dir.join(checkpoint_name(LOADED_LSN)), loaded),
        (dir.join(checkpoint_name(base_lsn)), base),
    ]);
    if let Ok(state) = load_checkpoint(&files, dir, LOADED_LSN) {
        let _ = state.state_hash();
        assert!(state.pages().all(|(id, _)| id < state.next_page_id()));
    }
});
