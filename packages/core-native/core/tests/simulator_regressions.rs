//! Bugs the storage simulator (storage_simulator.rs) found, each replayed
//! here on real files, so that they stay fixed whatever the simulator's
//! random choices become.

#[allow(dead_code)]
mod simulator;
mod support;

use std::io::ErrorKind;
use std::path::Path;
use std::sync::Arc;

use mmsb_core::inspect::check_history;
use mmsb_core::recovery::RecoveryMode;
use mmsb_core::storage::OsFileSystem;
use mmsb_core::{ErrorCode, Location, StateHash, Store, StoreOptions};
use simulator::disk::{Faults, InjectedError, SimulatedDisk};
use support::delegating::Delegating;
use support::{dense, FaultPoint, Scratch, WriteFaults};

fn options(recovery_mode: RecoveryMode) -> StoreOptions {
    StoreOptions {
        segment_bytes_max: 512,
        recovery_mode,
        ..Default::default()
    }
}

/// Writes `deltas` acknowledged deltas; returns the state hash and last LSN.
fn acknowledged_writes(dir: &Path, deltas: u8) -> (StateHash, u64) {
    let mut store = support::open_with(dir, options(RecoveryMode::SalvageTail)).unwrap();
    let id = store.create_page(64, Location::Cpu, &[]).unwrap();
    for value in 1..=deltas {
        store.apply(&dense(id, vec![value; 64])).unwrap();
        store.sync_job().unwrap().run().unwrap();
    }
    (store.state_hash(), store.last_lsn())
}

/// A store whose directory syncs fail once `faults` is armed.
fn failing_directory_syncs(scratch: &Scratch) -> (Arc<WriteFaults>, Store) {
    let faults = WriteFaults::new(FaultPoint::SyncDir, ErrorKind::Other);
    let store = Store::open(
        Arc::new(Delegating(Arc::clone(&faults))),
        scratch.path(),
        options(RecoveryMode::SalvageTail),
    )
    .unwrap();
    (faults, store)
}

/// Sealing writes the next segment (synced with its directory) before the
/// seal of the full one. A crash or a failed write in the middle of the
/// seal left its first bytes at the end of a segment that was no longer the
/// newest, which recovery called a damaged record in a sealed segment: the
/// store refused to open after an ordinary crash (simulator seed 19).
#[test]
fn a_seal_cut_short_by_a_crash_ends_its_segment_as_a_whole_seal() {
    let seal_bytes = 18;
    for kept in 1..seal_bytes {
        let scratch = Scratch::new("torn-seal");
        let (hash, last_lsn) = acknowledged_writes(scratch.path(), 20);
        let all = support::segments(scratch.path());
        assert!(all.len() >= 3, "sealed segments and a newest one");
        let sealed = &all[all.len() - 2];
        let len = std::fs::metadata(sealed).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(sealed).unwrap();
        file.set_len(len - seal_bytes + kept).unwrap();
        for mode in [RecoveryMode::Strict, RecoveryMode::SalvageTail] {
            let store = support::open_with(scratch.path(), options(mode))
                .unwrap_or_else(|error| panic!("{kept} bytes of the seal kept, {mode:?}: {error}"));
            assert_eq!(store.last_lsn(), last_lsn);
            assert_eq!(store.state_hash(), hash);
        }
        let history = check_history(&OsFileSystem, scratch.path()).unwrap();
        assert!(history.problems.is_empty(), "verify: {:?}", history.problems);
    }
}

/// A seal with a flipped bit is damage, not an interrupted write: it still
/// refuses (and `repair` mends it; hostile_disk.rs).
#[test]
fn a_seal_with_a_flipped_bit_is_still_refused() {
    let scratch = Scratch::new("flipped-seal");
    acknowledged_writes(scratch.path(), 20);
    let all = support::segments(scratch.path());
    let sealed = &all[all.len() - 2];
    let mut bytes = std::fs::read(sealed).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x04;
    bytes.truncate(bytes.len() - 1);
    std::fs::write(sealed, &bytes).unwrap();
    let error = support::open_with(scratch.path(), options(RecoveryMode::SalvageTail))
        .err()
        .expect("refused");
    assert_eq!(error.code, ErrorCode::LogCorrupt);
}

/// Writing the salvage file of a torn tail failed on a full disk and left
/// the part written behind; each later attempt to open left one more, so the
/// disk never had room to salvage the tail again (simulator seed 23).
#[test]
fn a_salvage_file_that_could_not_be_written_is_removed() {
    let scratch = Scratch::new("salvage-full");
    let (hash, last_lsn) = acknowledged_writes(scratch.path(), 3);
    let segment = support::segments(scratch.path()).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let first_lsn: u64 = segment.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let valid_end = mmsb_core::inspect::scan(&OsFileSystem, &segment, first_lsn, true)
        .unwrap()
        .valid_end;
    bytes.truncate(valid_end as usize);
    bytes.extend_from_slice(b"an interrupted write");
    std::fs::write(&segment, &bytes).unwrap();
    let faults = WriteFaults::new(FaultPoint::Append, ErrorKind::StorageFull);
    faults.arm(0);
    let error = Store::open(
        Arc::new(Delegating(Arc::clone(&faults))),
        scratch.path(),
        options(RecoveryMode::SalvageTail),
    )
    .err()
    .expect("no room for the salvage file");
    assert_eq!(error.code, ErrorCode::DiskFull, "{error}");
    let salvage = scratch.path().join("salvage");
    assert_eq!(
        std::fs::read_dir(&salvage).unwrap().count(),
        0,
        "nothing left in {salvage:?}"
    );
    let store = support::open_with(scratch.path(), options(RecoveryMode::SalvageTail)).unwrap();
    assert_eq!((store.state_hash(), store.last_lsn()), (hash, last_lsn));
    let torn = store
        .recovery_report()
        .unwrap()
        .torn_tail
        .clone()
        .expect("salvaged now");
    assert_eq!(std::fs::read(&torn.salvage_file).unwrap(), b"an interrupted write");
    assert!(torn
        .salvage_file
        .to_string_lossy()
        .ends_with(&format!(".{valid_end}.torn")));
}

/// A checkpoint logged its marker and then deleted what retention no longer
/// needed; when that failed (a directory sync), the call failed although the
/// marker was logged and the LSN had moved: a failed call that changed the
/// store (simulator seeds 942, 947). Retention now runs before the marker.
#[test]
fn a_checkpoint_whose_retention_fails_logs_nothing() {
    let scratch = Scratch::new("retention-fails");
    let (faults, mut store) = failing_directory_syncs(&scratch);
    let id = store.create_page(64, Location::Cpu, &[]).unwrap();
    store.apply(&dense(id, vec![1; 64])).unwrap();
    let before = (store.last_lsn(), store.state_hash());
    // The checkpoint's own directory sync, the new segment's, then retention's.
    faults.arm(2);
    let error = store.checkpoint(true).expect_err("retention fails");
    assert_eq!(error.code, ErrorCode::IoError, "{error}");
    assert_eq!((store.last_lsn(), store.state_hash()), before, "nothing logged");
    faults.armed.store(false, std::sync::atomic::Ordering::SeqCst);
    store.apply(&dense(id, vec![2; 64])).unwrap();
    store.checkpoint(false).unwrap();
    store.sync_job().unwrap().run().unwrap();
    let (hash, last_lsn) = (store.state_hash(), store.last_lsn());
    drop(store);
    let store = support::open_with(scratch.path(), options(RecoveryMode::Strict)).unwrap();
    assert_eq!((store.state_hash(), store.last_lsn()), (hash, last_lsn));
}

/// A checkpoint whose retention failed had already made its LSN the base of
/// the next increment; the next checkpoint, with nothing logged between,
/// named itself as its own base, and retention followed that chain until
/// memory ran out (simulator seed 4244). An increment now needs a base older
/// than itself, and a chain that does not descend counts as missing.
#[test]
fn a_checkpoint_right_after_one_whose_retention_failed_is_not_its_own_base() {
    let scratch = Scratch::new("own-base");
    let (faults, mut store) = failing_directory_syncs(&scratch);
    let id = store.create_page(64, Location::Cpu, &[]).unwrap();
    // Enough state that an increment pays where nothing changed.
    store.create_page(1 << 16, Location::Cpu, &[]).unwrap();
    store.apply(&dense(id, vec![1; 64])).unwrap();
    faults.arm(2);
    store.checkpoint(true).expect_err("retention fails");
    faults.armed.store(false, std::sync::atomic::Ordering::SeqCst);
    let info = store.checkpoint(false).unwrap();
    assert_eq!(info.base_lsn, 0, "nothing older to build on: a full checkpoint");
    store.sync_job().unwrap().run().unwrap();
    let (hash, last_lsn) = (store.state_hash(), store.last_lsn());
    drop(store);
    let store = support::open_with(scratch.path(), options(RecoveryMode::Strict)).unwrap();
    assert_eq!((store.state_hash(), store.last_lsn()), (hash, last_lsn));
    assert_eq!(store.oldest_lsn(), 0, "the whole log is still there to travel back");
}

/// A failed open (the new segment's sync failed) left a segment whose
/// directory entry was never synced; the next open resumed it and synced
/// only its bytes, so a power loss took the segment and every write
/// acknowledged in it (simulator seed 4816). Opening now syncs the log and
/// checkpoint directories, and the resumed segment, before acknowledging.
#[test]
fn writes_acknowledged_after_a_failed_open_survive_a_power_loss() {
    let scratch = Scratch::new("unsynced-entry");
    std::fs::create_dir_all(scratch.path()).unwrap();
    let faults = Faults {
        crash_at: None,
        // The first open's writes: the segment cut to nothing, its header, its sync.
        error_at: Some((3, InjectedError::Eio)),
        misdirect_percent: 0,
        flip_written_percent: 0,
        flip_synced_percent: 0,
        capacity_bytes: u64::MAX,
    };
    let disk = SimulatedDisk::new(simulator::Rng::new(0), faults);
    let open = || Store::open(Arc::new(disk.clone()), scratch.path(), options(RecoveryMode::Strict));
    let error = open().err().expect("the segment's sync fails");
    assert_eq!(error.code, ErrorCode::IoError, "{error}");
    let mut store = open().unwrap();
    let id = store.create_page(64, Location::Cpu, &[]).unwrap();
    store.apply(&dense(id, vec![7; 64])).unwrap();
    let acknowledged = store.sync_job().unwrap().run().unwrap();
    let hash = store.state_hash();
    drop(store);
    disk.crash_losing_everything_unsynced();
    let store = open().unwrap();
    assert_eq!((store.last_lsn(), store.state_hash()), (acknowledged, hash));
}

/// An append that failed put the fill back over its partial record but did
/// not sync it: a crash could keep the record and lose the fill, so a change
/// refused as not applied came back on reopening (simulator seed 1739).
#[test]
fn a_refused_append_never_comes_back_after_a_crash() {
    for seed in 0..40 {
        let scratch = Scratch::new("undo-append");
        std::fs::create_dir_all(scratch.path()).unwrap();
        let faults = Faults {
            crash_at: None,
            error_at: None,
            misdirect_percent: 0,
            flip_written_percent: 0,
            flip_synced_percent: 0,
            capacity_bytes: u64::MAX,
        };
        let disk = SimulatedDisk::new(simulator::Rng::new(seed), faults.clone());
        let open = || {
            Store::open(
                Arc::new(disk.clone()),
                scratch.path(),
                options(RecoveryMode::SalvageTail),
            )
        };
        let mut store = open().unwrap();
        let id = store.create_page(64, Location::Cpu, &[]).unwrap();
        let acknowledged = store.sync_job().unwrap().run().unwrap();
        let hash = store.state_hash();
        // The next write is the delta's record (its fill is preallocated already).
        disk.set_faults(Faults {
            error_at: Some((disk.operations() + 1, InjectedError::Eio)),
            ..faults
        });
        let error = store.apply(&dense(id, vec![9; 64])).expect_err("refused");
        assert_eq!(error.code, ErrorCode::IoError, "{error}");
        drop(store);
        disk.crash_losing_the_last_changes();
        let store = open().unwrap();
        assert_eq!(
            (store.last_lsn(), store.state_hash()),
            (acknowledged, hash),
            "disk seed {seed}"
        );
    }
}
