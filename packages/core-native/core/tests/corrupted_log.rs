//! Damaged files: a torn tail recovers, damage with valid records after it
//! refuses to open naming segment and offset, and a damaged checkpoint falls
//! back to an older one or fails clearly.

mod support;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use mmsb_core::{ErrorCode, Location, Store};
use support::delegating::{Delegating, Hook, Operation};
use support::{dense, open, Scratch};

/// Where the records of the newest segment start and end (the file goes on
/// with preallocated zeros).
fn last_record_span(scratch: &Scratch) -> (u64, u64) {
    let segment = scratch.last_segment();
    let first_lsn: u64 = segment.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let scanned = mmsb_core::inspect::scan(&mmsb_core::storage::OsFileSystem, &segment, first_lsn, true).unwrap();
    (scanned.records.last().unwrap().offset, scanned.valid_end)
}

/// Writes three deltas; returns the hashes after the second and third, and
/// where the third record starts and ends in the last segment.
fn three_deltas(scratch: &Scratch) -> (mmsb_core::StateHash, mmsb_core::StateHash, u64, u64) {
    let mut store = open(scratch.path()).unwrap();
    let id = store.create_page(32, Location::Cpu, &[]).unwrap();
    store.apply(&dense(id, vec![1; 32])).unwrap();
    store.apply(&dense(id, vec![2; 32])).unwrap();
    let before_last = store.state_hash();
    store.apply(&dense(id, vec![3; 32])).unwrap();
    store.sync_job().unwrap().run().unwrap();
    let (last_start, records_end) = last_record_span(scratch);
    (before_last, store.state_hash(), last_start, records_end)
}

#[test]
fn a_torn_tail_at_every_byte_of_the_last_record_recovers_the_prefix() {
    let scratch = Scratch::new("torn");
    let (before_last, _, last_start, records_end) = three_deltas(&scratch);
    let segment = scratch.last_segment();
    let full = std::fs::read(&segment).unwrap();
    for cut in last_start..records_end {
        std::fs::write(&segment, &full[..cut as usize]).unwrap();
        let store = open(scratch.path()).unwrap();
        assert_eq!(store.state_hash(), before_last, "cut at {cut}");
        // A partial record that happens to be all zeros reads as preallocated space.
        let partial_is_zeros = full[last_start as usize..cut as usize].iter().all(|&byte| byte == 0);
        let torn = if partial_is_zeros { 0 } else { cut - last_start };
        assert_eq!(
            store.recovery_report().unwrap().torn_bytes_truncated,
            torn,
            "cut at {cut}"
        );
        let expected_len = if partial_is_zeros { cut } else { last_start };
        assert_eq!(
            std::fs::metadata(&segment).unwrap().len(),
            expected_len,
            "the torn bytes are cut"
        );
    }
}

#[test]
fn zeros_after_the_last_record_are_a_clean_end_and_other_bytes_a_torn_tail() {
    let scratch = Scratch::new("tail");
    let (_, after_last, _, records_end) = three_deltas(&scratch);
    let segment = scratch.last_segment();
    let preallocated = std::fs::metadata(&segment).unwrap().len();
    assert!(preallocated > records_end, "the newest segment is preallocated");
    let store = open(scratch.path()).unwrap();
    assert_eq!(store.state_hash(), after_last);
    assert_eq!(store.recovery_report().unwrap().torn_bytes_truncated, 0);
    drop(store);
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        preallocated,
        "preallocated zeros are kept"
    );
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[records_end as usize + 5] = 7;
    std::fs::write(&segment, &bytes).unwrap();
    let store = open(scratch.path()).unwrap();
    assert_eq!(store.state_hash(), after_last);
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        records_end,
        "a non-zero tail is cut"
    );
}

#[test]
fn a_bit_flip_in_a_middle_record_is_log_corrupt_naming_segment_and_offset() {
    let scratch = Scratch::new("flip");
    let (_, _, last_start, _) = three_deltas(&scratch);
    let segment = scratch.last_segment();
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = last_start as usize - 10;
    bytes[middle] ^= 0x10;
    std::fs::write(&segment, &bytes).unwrap();
    let error = open(scratch.path()).err().expect("must refuse");
    assert_eq!(error.code, ErrorCode::LogCorrupt, "{}", error.message);
    let name = segment.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(error.message.contains(&name), "{}", error.message);
    assert!(error.message.contains("offset"), "{}", error.message);
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        bytes,
        "nothing is truncated or repaired silently"
    );
}

#[test]
fn a_damaged_checkpoint_falls_back_to_the_previous_one() {
    let scratch = Scratch::new("checkpoint-fallback");
    let options = mmsb_core::StoreOptions {
        checkpoints_retained: 3,
        ..Default::default()
    };
    let reopen = || support::open_with(scratch.path(), options.clone());
    let hash = {
        let mut store = reopen().unwrap();
        let id = store.create_page(32, Location::Cpu, &[]).unwrap();
        store.apply(&dense(id, vec![1; 32])).unwrap();
        store.checkpoint(false).unwrap();
        store.apply(&dense(id, vec![2; 32])).unwrap();
        store.checkpoint(false).unwrap();
        store.apply(&dense(id, vec![3; 32])).unwrap();
        store.sync_job().unwrap().run().unwrap();
        store.state_hash()
    };
    let mut checkpoints: Vec<_> = std::fs::read_dir(scratch.path().join("checkpoints"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    checkpoints.sort();
    let newest = checkpoints.last().unwrap();
    let mut bytes = std::fs::read(newest).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(newest, &bytes).unwrap();
    let store = reopen().unwrap();
    assert_eq!(store.state_hash(), hash);
    assert_eq!(
        store.recovery_report().unwrap().checkpoint_lsn,
        2,
        "the older checkpoint was used"
    );
}

/// The real file system, except that reading `unreadable` (past opening
/// it) fails with EIO: a bad sector.
fn unreadable_file(unreadable: PathBuf) -> Delegating<impl Hook> {
    Delegating::new(move |operation: Operation<'_>| match operation {
        Operation::ReadAll(path) | Operation::MapWhole(path) | Operation::ReadStream(path) if path == unreadable => {
            Err(io::Error::from_raw_os_error(5))
        }
        _ => Ok(()),
    })
}

/// Regression: reading checkpoint headers with a small read made a read
/// error in the header (after the file opened) an IO_ERROR, so recovery
/// refused to open instead of falling back to the older checkpoint as it
/// does for any other unreadable part of a checkpoint (CHECKPOINT_CORRUPT).
#[test]
fn a_checkpoint_whose_header_does_not_read_falls_back_to_the_previous_one() {
    let scratch = Scratch::new("checkpoint-unreadable");
    let options = mmsb_core::StoreOptions {
        checkpoints_retained: 3,
        ..Default::default()
    };
    let hash = {
        let mut store = support::open_with(scratch.path(), options.clone()).unwrap();
        let id = store.create_page(32, Location::Cpu, &[]).unwrap();
        store.apply(&dense(id, vec![1; 32])).unwrap();
        store.checkpoint(false).unwrap();
        store.apply(&dense(id, vec![2; 32])).unwrap();
        store.checkpoint(false).unwrap();
        store.apply(&dense(id, vec![3; 32])).unwrap();
        store.sync_job().unwrap().run().unwrap();
        store.state_hash()
    };
    let mut checkpoints: Vec<_> = std::fs::read_dir(scratch.path().join("checkpoints"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    checkpoints.sort();
    let newest = checkpoints.pop().unwrap();
    let fs = unreadable_file(newest.clone());
    let error = mmsb_core::checkpoint::read_header(&fs, &newest).expect_err("unreadable");
    assert_eq!(error.code, ErrorCode::CheckpointCorrupt, "{error}");
    assert!(error.message.contains("shorter than its"), "{error}");
    let store = Store::open(Arc::new(fs), scratch.path(), options).unwrap();
    assert_eq!(store.state_hash(), hash);
    assert_eq!(
        store.recovery_report().unwrap().checkpoint_lsn,
        2,
        "the older checkpoint was used"
    );
}

/// Regression: with one damaged checkpoint the directory was lost ("no older
/// checkpoint and no complete log to fall back on"), because retention had
/// deleted the log behind the chain's only full base. Retention now keeps the
/// log back to the full checkpoint before the chain's base.
#[test]
fn any_one_damaged_checkpoint_is_survivable_and_all_damaged_fail_clearly() {
    let scratch = Scratch::new("checkpoint-only");
    let hash = {
        let mut store = open(scratch.path()).unwrap();
        let id = store.create_page(32, Location::Cpu, &[]).unwrap();
        store.apply(&dense(id, vec![1; 32])).unwrap();
        store.checkpoint(false).unwrap();
        store.apply(&dense(id, vec![2; 32])).unwrap();
        store.checkpoint(false).unwrap();
        store.checkpoint(false).unwrap();
        store.state_hash()
    };
    let checkpoints: Vec<_> = std::fs::read_dir(scratch.path().join("checkpoints"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert!(
        checkpoints.len() >= 3,
        "a chain and a fallback are kept: {checkpoints:?}"
    );
    let flip = |path: &std::path::Path| {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(path, &bytes).unwrap();
    };
    for path in &checkpoints {
        flip(path);
        let store = open(scratch.path()).unwrap();
        assert_eq!(store.state_hash(), hash, "{} damaged alone", path.display());
        drop(store);
        flip(path);
    }
    checkpoints.iter().for_each(|path| flip(path));
    let error = open(scratch.path()).err().expect("must refuse");
    assert_eq!(error.code, ErrorCode::CheckpointCorrupt, "{}", error.message);
    assert!(error.message.contains("header checksum"), "{}", error.message);
}

#[test]
fn repair_cuts_the_log_at_the_damage_and_keeps_the_original_aside() {
    let scratch = Scratch::new("repair");
    let (_, _, last_start, _) = three_deltas(&scratch);
    let segment = scratch.last_segment();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[last_start as usize - 10] ^= 0x10;
    std::fs::write(&segment, &bytes).unwrap();
    assert_eq!(
        open(scratch.path()).err().map(|error| error.code),
        Some(ErrorCode::LogCorrupt)
    );
    let report = mmsb_core::inspect::repair(&mmsb_core::storage::OsFileSystem, scratch.path()).unwrap();
    let salvage = report.salvage_dir.expect("a salvage directory");
    let name = segment.file_name().unwrap();
    assert_eq!(
        std::fs::read(salvage.join(name)).unwrap(),
        bytes,
        "the damaged segment is kept as it was"
    );
    let store = open(scratch.path()).unwrap();
    assert_eq!(store.last_lsn(), 2, "the page creation and the first delta survive");
    let locked = mmsb_core::inspect::repair(&mmsb_core::storage::OsFileSystem, scratch.path());
    assert_eq!(locked.err().map(|error| error.code), Some(ErrorCode::DirectoryLocked));
    drop(store);
    let again = mmsb_core::inspect::repair(&mmsb_core::storage::OsFileSystem, scratch.path()).unwrap();
    assert!(again.salvage_dir.is_none(), "a clean log is left alone");
}

/// A sealed segment cut short before its last record, its successor intact:
/// opening refuses, naming the segment and where its records end (simulator
/// seed 3035 of a reordered run found the message without the offset).
#[test]
fn a_sealed_segment_cut_before_its_last_record_refuses_naming_the_offset() {
    let scratch = Scratch::new("cut-sealed");
    let options = mmsb_core::StoreOptions {
        segment_bytes_max: 256,
        ..Default::default()
    };
    {
        let mut store = support::open_with(scratch.path(), options.clone()).unwrap();
        let id = store.create_page(40, Location::Cpu, &[]).unwrap();
        for value in 0..20u8 {
            store.apply(&dense(id, vec![value; 40])).unwrap();
        }
        store.sync_job().unwrap().run().unwrap();
    }
    let segments = support::segments(scratch.path());
    assert!(segments.len() > 2);
    let sealed = &segments[0];
    let scanned = mmsb_core::inspect::scan(&mmsb_core::storage::OsFileSystem, sealed, 1, false).unwrap();
    let last = scanned.records.last().unwrap().offset;
    std::fs::OpenOptions::new()
        .write(true)
        .open(sealed)
        .unwrap()
        .set_len(last)
        .unwrap();
    let error = support::open_with(scratch.path(), options).err().expect("refused");
    assert_eq!(error.code, ErrorCode::LogCorrupt, "{error}");
    let name = sealed.file_name().unwrap().to_str().unwrap();
    assert!(error.message.contains(&format!("{name} offset {last}")), "{error}");
}
