//! Old formats stay readable: `golden/v1` is a data directory written by
//! format version 1 (segments, records of every kind, a compressed record, a
//! run-length coded mask, edges, a full and an incremental checkpoint). Every later
//! version must open it to the same state.

mod support;

use std::path::Path;

use mmsb_core::{Delta, Location, Payload, RangeWrite, Source, StoreOptions};
use support::{dense, Scratch};

const GOLDEN_V1_STATE_HASH: &str = "83d4c7d76e4ea5591b514c66a835f256f331593332f5730171ddca0ac49e060f";

fn golden_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn options() -> StoreOptions {
    StoreOptions {
        segment_bytes_max: 4096,
        compress_bytes_min: Some(2048),
        ..Default::default()
    }
}

#[test]
fn a_version_1_directory_opens_to_its_recorded_state() {
    let scratch = Scratch::new("golden");
    copy_dir(&golden_dir(), scratch.path());
    let store = support::open_with(scratch.path(), options()).unwrap();
    assert_eq!(store.state_hash().to_hex(), GOLDEN_V1_STATE_HASH);
    let checks = mmsb_core::inspect::check_history(&mmsb_core::storage::OsFileSystem, scratch.path())
        .unwrap()
        .checks;
    assert!(!checks.is_empty());
    for check in checks {
        assert_eq!(check.stored, check.replayed, "checkpoint at LSN {}", check.lsn);
    }
}

/// Writes `tests/golden/v1` anew. Run only when introducing a format version
/// (then keep the old directory under its own name and add a test for it):
/// `cargo test -p mmsb-core --test backward_compatibility -- --ignored`.
#[test]
#[ignore]
fn write_golden_v1() {
    let dir = golden_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let mut store = support::open_with(&dir, options()).unwrap();
    let named = store
        .create_page(4096, Location::Cpu, &[("name", &[0xa4, b'g', b'o', b'l', b'd'])])
        .unwrap();
    let first = store.create_pages(4, 512, Location::Cpu).unwrap();
    store.apply(&dense(named, vec![0x11; 4096])).unwrap();
    store.checkpoint(true).unwrap();
    let mut mask = vec![0u8; 64];
    mask[8..16].fill(0xff);
    let sparse = Delta {
        page_id: first,
        payload: Payload::Sparse {
            mask,
            packed: (0..64u8).collect(),
        },
        source: Source::Propagation,
        expect_epoch: Some(0),
    };
    let ranges = Delta {
        payload: Payload::Ranges(vec![RangeWrite {
            offset: 3,
            bytes: vec![9, 9],
        }]),
        ..dense(first + 1, vec![])
    };
    store.apply_batch(&[sparse, ranges]).unwrap();
    store
        .set_metadata(first + 2, "unit", Some(&[0xa2, b'm', b'V']))
        .unwrap();
    store.release_page(first + 3).unwrap();
    store.checkpoint(false).unwrap();
    for value in 0..6u8 {
        store.apply(&dense(named, vec![value; 4096])).unwrap();
    }
    store.sync_job().unwrap().run().unwrap();
    println!("golden v1 state hash: {}", store.state_hash().to_hex());
}
