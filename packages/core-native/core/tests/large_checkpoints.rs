//! Checkpoints with enough page data to be read by several threads
//! (page_reads.rs, from 16 MiB): the pages come back exactly, pages a newer
//! link of an incremental chain holds are read past but still checksummed,
//! and a flipped byte anywhere in the data, or a cut file, is `CHECKPOINT_CORRUPT`.

mod support;

use mmsb_core::checkpoint::{checkpoint_name, load_checkpoint};
use mmsb_core::storage::OsFileSystem;
use mmsb_core::{ErrorCode, Location, StoreOptions};
use support::{dense, open_with, Rng, Scratch};

const MIB: usize = 1 << 20;

/// The LSNs of a full checkpoint and of the incremental one after it, and
/// each page's id and final bytes.
struct Chain {
    full: u64,
    incremental: u64,
    pages: Vec<(u64, Vec<u8>)>,
}

/// A full checkpoint of pages of 2 and 20 MiB plus one small page, then an
/// incremental one holding the first page rewritten.
fn two_checkpoints(scratch: &Scratch) -> Chain {
    let mut store = open_with(scratch.path(), StoreOptions::default()).unwrap();
    let mut pages = Vec::new();
    for (seed, len) in [(1, 2 * MIB), (2, 20 * MIB), (3, 4096 + 7)] {
        let id = store.create_page(len as u64, Location::Cpu, &[]).unwrap();
        let content = Rng(seed).bytes(len);
        store.apply(&dense(id, content.clone())).unwrap();
        pages.push((id, content));
    }
    let full = store.checkpoint(true).unwrap().lsn;
    pages[0].1 = Rng(4).bytes(2 * MIB);
    store.apply(&dense(pages[0].0, pages[0].1.clone())).unwrap();
    let incremental = store.checkpoint(false).unwrap().lsn;
    let written = std::fs::metadata(scratch.path().join("checkpoints").join(checkpoint_name(incremental))).unwrap();
    assert!(
        written.len() < 3 * MIB as u64,
        "the second checkpoint holds the rewritten page alone"
    );
    Chain {
        full,
        incremental,
        pages,
    }
}

#[test]
fn a_large_checkpoint_chain_loads_every_byte() {
    let scratch = Scratch::new("large-checkpoint");
    let Chain { incremental, pages, .. } = two_checkpoints(&scratch);
    let state = load_checkpoint(&OsFileSystem, &scratch.path().join("checkpoints"), incremental).unwrap();
    for (id, content) in &pages {
        assert!(state.page(*id).unwrap().data() == &content[..], "page {id}");
    }
    let reopened = open_with(scratch.path(), StoreOptions::default()).unwrap();
    for (id, content) in &pages {
        assert!(
            reopened.page(*id).unwrap().data() == &content[..],
            "page {id} after reopening"
        );
    }
}

#[test]
fn damage_anywhere_in_a_large_checkpoint_is_refused() {
    let scratch = Scratch::new("large-checkpoint-damage");
    let Chain { full, incremental, .. } = two_checkpoints(&scratch);
    let dir = scratch.path().join("checkpoints");
    let full_path = dir.join(checkpoint_name(full));
    let pristine = std::fs::read(&full_path).unwrap();
    let len = pristine.len();
    // The data section ends the file: pages of 2 MiB, 20 MiB and 4103 bytes.
    let data = len - (22 * MIB + 4103);
    // In the first page (which the newer link holds: read past, still checked),
    // at a chunk boundary of the second, and in the last byte of the file.
    for at in [data + 5000, data + 2 * MIB + 8 * MIB, len - 1] {
        let mut damaged = pristine.clone();
        damaged[at] ^= 0x10;
        std::fs::write(&full_path, &damaged).unwrap();
        let error = load_checkpoint(&OsFileSystem, &dir, incremental)
            .err()
            .expect("refused");
        assert_eq!(error.code, ErrorCode::CheckpointCorrupt, "byte {at}: {}", error.message);
        assert!(error.message.contains("checksum"), "byte {at}: {}", error.message);
    }
    std::fs::write(&full_path, &pristine[..len - 3 * MIB]).unwrap();
    let error = load_checkpoint(&OsFileSystem, &dir, incremental)
        .err()
        .expect("refused");
    assert_eq!(error.code, ErrorCode::CheckpointCorrupt, "{}", error.message);
    assert!(error.message.contains(&checkpoint_name(full)), "{}", error.message);
}
