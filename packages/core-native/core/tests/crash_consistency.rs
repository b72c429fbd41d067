//! Reopening a data directory gives back exactly the state that was written:
//! after plain reopens, after checkpoints, and at every LSN through time travel.

mod support;

use mmsb_core::{Delta, ErrorCode, Location, Payload, RangeWrite, Source};
use proptest::prelude::*;
use support::{dense, open, Scratch};

#[test]
fn a_reopened_store_has_the_same_state() {
    let scratch = Scratch::new("reopen");
    let hash = {
        let mut store = open(scratch.path()).unwrap();
        let id = store
            .create_page(16, Location::Cpu, &[("name", &[0xa1, b'x'])])
            .unwrap();
        let more = store.create_pages(3, 8, Location::Cpu).unwrap();
        store.apply(&dense(id, vec![7; 16])).unwrap();
        store.release_page(more + 1).unwrap();
        store.set_metadata(id, "unit", Some(&[0x01])).unwrap();
        store.sync_job().unwrap().run().unwrap();
        store.state_hash()
    };
    let store = open(scratch.path()).unwrap();
    assert_eq!(store.state_hash(), hash);
    assert_eq!(store.last_lsn(), 5);
    assert_eq!(store.recovery_report().unwrap().records_replayed, 5);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let scratch = Scratch::new("lock");
    let _first = open(scratch.path()).unwrap();
    assert_eq!(
        open(scratch.path()).err().map(|error| error.code),
        Some(ErrorCode::DirectoryLocked)
    );
}

#[test]
fn checkpoints_bound_replay_and_retention_drops_old_segments() {
    let scratch = Scratch::new("checkpoint");
    let hash = {
        let mut store = open(scratch.path()).unwrap();
        let id = store.create_page(64, Location::Cpu, &[]).unwrap();
        for round in 0..3u8 {
            for value in 0..10u8 {
                store.apply(&dense(id, vec![round * 10 + value; 64])).unwrap();
            }
            store.checkpoint(false).unwrap();
        }
        store.apply(&dense(id, vec![255; 64])).unwrap();
        store.sync_job().unwrap().run().unwrap();
        store.state_hash()
    };
    let store = open(scratch.path()).unwrap();
    assert_eq!(store.state_hash(), hash);
    let report = store.recovery_report().unwrap();
    assert_eq!(report.records_replayed, 2, "the checkpoint marker and the last delta");
    let checkpoints = std::fs::read_dir(scratch.path().join("checkpoints")).unwrap().count();
    assert_eq!(
        checkpoints, 3,
        "two checkpoints are retained by default, and the full one before them as a fallback"
    );
    let segments = std::fs::read_dir(scratch.path().join("log")).unwrap().count();
    assert_eq!(segments, 3, "segments older than the fallback checkpoint are deleted");
    assert_eq!(
        store.oldest_lsn(),
        11,
        "the fallback checkpoint is reachable by time travel"
    );
    assert_eq!(store.state_at(11).unwrap().page(1).unwrap().data()[0], 9);
    let too_old = store.state_at(store.oldest_lsn() - 1).err().unwrap();
    assert_eq!(too_old.code, ErrorCode::LsnOutOfRange);
}

#[test]
fn small_segments_roll_and_replay_across_them() {
    let scratch = Scratch::new("roll");
    let options = mmsb_core::StoreOptions {
        segment_bytes_max: 256,
        ..Default::default()
    };
    let open_small = || support::open_with(scratch.path(), options.clone());
    let hash = {
        let mut store = open_small().unwrap();
        let id = store.create_page(40, Location::Cpu, &[]).unwrap();
        for value in 0..50u8 {
            store.apply(&dense(id, vec![value; 40])).unwrap();
        }
        store.state_hash()
    };
    assert!(std::fs::read_dir(scratch.path().join("log")).unwrap().count() > 10);
    let store = open_small().unwrap();
    assert_eq!(store.state_hash(), hash);
    assert_eq!(store.state_at(26).unwrap().page(1).unwrap().data(), &[24; 40]);
}

#[derive(Clone, Debug)]
enum Operation {
    Create(u64),
    Write { page: usize, offset: u8, byte: u8 },
    Release(usize),
    Metadata { page: usize, value: u8 },
    Checkpoint { full: bool },
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        1 => (1u64..64).prop_map(Operation::Create),
        4 => (any::<usize>(), any::<u8>(), any::<u8>()).prop_map(|(page, offset, byte)| Operation::Write { page, offset, byte }),
        1 => (any::<usize>()).prop_map(Operation::Release),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(page, value)| Operation::Metadata { page, value }),
        1 => any::<bool>().prop_map(|full| Operation::Checkpoint { full }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn live_reopened_and_time_travelled_states_agree(operations in prop::collection::vec(operation(), 1..40)) {
        let scratch = Scratch::new("property");
        let mut store = open(scratch.path()).unwrap();
        let mut live: Vec<u64> = Vec::new();
        let mut hash_at = vec![(0u64, store.state_hash())];
        for operation in &operations {
            let changed = match operation {
                Operation::Create(size) => {
                    live.push(store.create_page(*size, Location::Cpu, &[]).unwrap());
                    true
                }
                Operation::Write { page, offset, byte } if !live.is_empty() => {
                    let id = live[page % live.len()];
                    let size = store.page(id).unwrap().size();
                    let write = RangeWrite { offset: u64::from(*offset) % size, bytes: vec![*byte] };
                    let delta = mmsb_core::Delta { payload: Payload::Ranges(vec![write]), ..dense(id, vec![]) };
                    store.apply(&delta).unwrap();
                    true
                }
                Operation::Release(page) if !live.is_empty() => {
                    store.release_page(live.remove(page % live.len())).unwrap();
                    true
                }
                Operation::Metadata { page, value } if !live.is_empty() => {
                    store.set_metadata(live[page % live.len()], "k", Some(&[*value & 0x7f])).unwrap();
                    true
                }
                Operation::Checkpoint { full } => {
                    store.checkpoint(*full).unwrap();
                    true
                }
                _ => false,
            };
            if changed {
                hash_at.push((store.last_lsn(), store.state_hash()));
            }
        }
        let live_hash = store.state_hash();
        for (lsn, hash) in hash_at.iter().filter(|(lsn, _)| *lsn >= store.oldest_lsn()) {
            prop_assert_eq!(store.state_at(*lsn).unwrap().state_hash(), *hash, "state at LSN {}", lsn);
        }
        store.sync_job().unwrap().run().unwrap();
        drop(store);
        let reopened = open(scratch.path()).unwrap();
        prop_assert_eq!(reopened.state_hash(), live_hash);
    }
}

#[test]
fn compressed_records_and_run_length_masks_reopen_to_the_same_state() {
    let scratch = Scratch::new("compressed");
    let options = mmsb_core::StoreOptions {
        compress_bytes_min: Some(1024),
        ..Default::default()
    };
    let open_compressed = || support::open_with(scratch.path(), options.clone());
    let hash = {
        let mut store = open_compressed().unwrap();
        let id = store.create_page(1 << 20, Location::Cpu, &[]).unwrap();
        for value in 0..8u8 {
            store.apply(&dense(id, vec![value; 1 << 20])).unwrap();
        }
        let mut mask = vec![0u8; (1 << 20) / 8];
        mask[1000..1100].fill(0xff);
        let sparse = mmsb_core::Delta {
            payload: Payload::Sparse {
                mask,
                packed: vec![0xab; 800],
            },
            ..dense(id, vec![])
        };
        store.apply(&sparse).unwrap();
        store.state_hash()
    };
    let log_bytes = support::log_record_bytes(scratch.path());
    assert!(
        log_bytes < 1 << 20,
        "8 MiB of repetitive deltas stored in {log_bytes} bytes"
    );
    let reopened = open_compressed().unwrap();
    assert_eq!(reopened.state_hash(), hash);
    assert_eq!(reopened.page(1).unwrap().data()[8000], 0xab);
}

#[test]
fn incremental_checkpoints_hold_only_changed_pages_and_the_log_stays_bounded() {
    let scratch = Scratch::new("incremental");
    let options = mmsb_core::StoreOptions {
        segment_bytes_max: 64 << 10,
        ..Default::default()
    };
    let reopen = || support::open_with(scratch.path(), options.clone());
    let small_write = |page: u64, value: u8| Delta {
        page_id: page,
        payload: Payload::Ranges(vec![RangeWrite {
            offset: 1024,
            bytes: vec![value; 1024],
        }]),
        source: Source::User,
        expect_epoch: None,
    };
    let (hash, full_bytes, increment_bytes) = {
        let mut store = reopen().unwrap();
        let first = store.create_pages(64, 16 << 10, Location::Cpu).unwrap();
        let full = store.checkpoint(false).unwrap();
        assert_eq!(full.base_lsn, 0, "the first checkpoint after open is full");
        let mut increment_bytes = 0;
        for round in 0..6u8 {
            for value in 0..20u8 {
                store
                    .apply(&small_write(first + u64::from(value % 2), round ^ value))
                    .unwrap();
            }
            store.release_page(first + 10 + u64::from(round)).unwrap();
            let increment = store.checkpoint(false).unwrap();
            assert_ne!(increment.base_lsn, 0, "round {round} is incremental");
            assert_eq!(increment.pages, 2, "only the two hot pages are stored");
            increment_bytes = increment.bytes;
        }
        // Heavy rounds: each logs 3 MiB against a state of under 1 MiB, so
        // the next checkpoint is full and the log behind it can go.
        for round in 0..10u8 {
            for value in 0..200u8 {
                store
                    .apply(&dense(first + u64::from(value % 2), vec![round ^ value; 16 << 10]))
                    .unwrap();
            }
            store.checkpoint(false).unwrap();
        }
        (store.state_hash(), full.bytes, increment_bytes)
    };
    assert!(increment_bytes * 10 < full_bytes, "{increment_bytes} vs {full_bytes}");
    let log_bytes = support::log_record_bytes(scratch.path());
    assert!(
        log_bytes < 8 << 20,
        "2000 deltas of 16 KiB (31 MiB) leave {log_bytes} bytes of log"
    );
    let store = reopen().unwrap();
    assert_eq!(store.state_hash(), hash);
    assert_eq!(store.live_page_count(), 58);
}

#[test]
fn a_damaged_incremental_checkpoint_falls_back_to_its_base_and_the_log() {
    let scratch = Scratch::new("incremental-damage");
    let options = mmsb_core::StoreOptions {
        checkpoints_retained: 3,
        ..Default::default()
    };
    let reopen = || support::open_with(scratch.path(), options.clone());
    let hash = {
        let mut store = reopen().unwrap();
        let first = store.create_pages(8, 1024, Location::Cpu).unwrap();
        store.checkpoint(false).unwrap();
        store.apply(&dense(first, vec![1; 1024])).unwrap();
        let increment = store.checkpoint(false).unwrap();
        assert_ne!(increment.base_lsn, 0);
        store.apply(&dense(first + 1, vec![2; 1024])).unwrap();
        store.sync_job().unwrap().run().unwrap();
        let mut bytes = std::fs::read(&increment.path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&increment.path, &bytes).unwrap();
        store.state_hash()
    };
    let store = reopen().unwrap();
    assert_eq!(store.state_hash(), hash);
    assert_eq!(
        store.recovery_report().unwrap().checkpoint_lsn,
        1,
        "the full base was used"
    );
}
