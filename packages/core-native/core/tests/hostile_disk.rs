//! Regressions of a hostile-disk review: damage to a closed data directory
//! whose every write was acknowledged (synced). Each test names what broke.

mod support;

use std::path::{Path, PathBuf};

use mmsb_core::delta::encoding::encode_for_log;
use mmsb_core::inspect::{check_history, repair};
use mmsb_core::log::record::{header, RecordKind, HEADER_BYTES};
use mmsb_core::recovery::RecoveryMode;
use mmsb_core::storage::OsFileSystem;
use mmsb_core::{ErrorCode, Location, StateHash, Store, StoreOptions};
use support::{dense, Scratch};

fn small_segments() -> StoreOptions {
    StoreOptions {
        segment_bytes_max: 512,
        ..Default::default()
    }
}

fn open(dir: &Path) -> mmsb_core::Result<Store> {
    support::open_with(dir, small_segments())
}

fn open_strict(dir: &Path) -> mmsb_core::Result<Store> {
    support::open_with(
        dir,
        StoreOptions {
            recovery_mode: RecoveryMode::Strict,
            ..small_segments()
        },
    )
}

/// Writes `deltas` acknowledged 64-byte deltas (checkpoints after the
/// given counts); returns the final hash and LSN.
fn acknowledged_writes(dir: &Path, deltas: u8, checkpoints_after: &[u8]) -> (StateHash, u64) {
    let mut store = open(dir).unwrap();
    let id = store.create_page(64, Location::Cpu, &[]).unwrap();
    for value in 1..=deltas {
        store.apply(&dense(id, vec![value; 64])).unwrap();
        store.sync_job().unwrap().run().unwrap();
        if checkpoints_after.contains(&value) {
            store.checkpoint(false).unwrap();
        }
    }
    store.sync_job().unwrap().run().unwrap();
    (store.state_hash(), store.last_lsn())
}

fn last_record_offset(segment: &Path) -> (u64, u64) {
    let first_lsn: u64 = segment.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let scan = mmsb_core::inspect::scan(&OsFileSystem, segment, first_lsn, true).unwrap();
    let last = scan.records.last().expect("a record");
    (last.offset, scan.valid_end)
}

/// Deleting the newest segment opened at an earlier LSN with nothing cut and
/// `mmsb verify` passed. The segment before it is sealed and names it now.
#[test]
fn a_deleted_newest_segment_is_seen_through_the_seal_before_it() {
    let scratch = Scratch::new("deleted-newest");
    acknowledged_writes(scratch.path(), 30, &[]);
    let all = support::segments(scratch.path());
    assert!(all.len() >= 3);
    std::fs::remove_file(all.last().unwrap()).unwrap();
    let error = open(scratch.path()).err().expect("must refuse");
    assert_eq!(error.code, ErrorCode::LogCorrupt);
    assert!(error.message.contains("is sealed and continues in segment"), "{error}");
    let name = all.last().unwrap().file_name().unwrap().to_str().unwrap();
    assert!(error.message.contains(name), "{error}");
    assert!(
        check_history(&OsFileSystem, scratch.path()).is_err(),
        "verify reports it"
    );
}

/// Zero-filling the last records of the newest segment to its end was taken
/// for preallocated space: writes were gone, with nothing reported.
#[test]
fn zeroed_last_records_are_a_torn_tail_kept_in_a_salvage_file() {
    let scratch = Scratch::new("zeroed-tail");
    let (_, last_lsn) = acknowledged_writes(scratch.path(), 5, &[]);
    let segment = support::segments(scratch.path()).pop().unwrap();
    let (offset, _) = last_record_offset(&segment);
    let mut bytes = std::fs::read(&segment).unwrap();
    let original = bytes.clone();
    bytes[offset as usize..].fill(0);
    std::fs::write(&segment, &bytes).unwrap();
    let history = check_history(&OsFileSystem, scratch.path()).unwrap();
    assert!(history.torn_tail.is_some(), "verify reports the torn tail");
    assert_eq!(
        open_strict(scratch.path()).err().map(|error| error.code),
        Some(ErrorCode::LogCorrupt)
    );
    assert_eq!(
        std::fs::read(&segment).unwrap(),
        bytes,
        "strict recovery changes nothing"
    );
    let store = open(scratch.path()).unwrap();
    assert_eq!(store.last_lsn(), last_lsn - 1);
    let torn = store.recovery_report().unwrap().torn_tail.clone().expect("reported");
    assert_eq!(torn.offset, offset);
    assert!(std::fs::read(&torn.salvage_file).unwrap().iter().all(|&byte| byte == 0));
    assert_ne!(original, bytes);
}

/// Deleting every log segment while checkpoints remained opened at the newest
/// checkpoint, silently dropping the writes after it.
#[test]
fn checkpoints_without_any_log_segment_are_refused() {
    let scratch = Scratch::new("no-segments");
    acknowledged_writes(scratch.path(), 6, &[3]);
    for segment in support::segments(scratch.path()) {
        std::fs::remove_file(segment).unwrap();
    }
    let error = open(scratch.path()).err().expect("must refuse");
    assert_eq!(error.code, ErrorCode::LogCorrupt);
    assert!(error.message.contains("the log has no segments"), "{error}");
}

/// One flipped byte in the last record (its body or its length field) was
/// cut as a torn write and the bytes were gone for good; `verify` said nothing.
#[test]
fn a_flipped_byte_in_the_last_record_is_salvaged_or_refused_never_lost() {
    for (what, field_offset) in [("length", 4usize), ("body", 20)] {
        let scratch = Scratch::new("flipped-last");
        acknowledged_writes(scratch.path(), 5, &[]);
        let segment = support::segments(scratch.path()).pop().unwrap();
        let (offset, valid_end) = last_record_offset(&segment);
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes[offset as usize + field_offset] ^= 0x01;
        std::fs::write(&segment, &bytes).unwrap();
        let history = check_history(&OsFileSystem, scratch.path()).unwrap();
        assert!(history.torn_tail.is_some(), "{what}: verify reports it");
        assert!(open_strict(scratch.path()).is_err(), "{what}: strict refuses");
        let store = open(scratch.path()).unwrap();
        let torn = store.recovery_report().unwrap().torn_tail.clone().expect("reported");
        let kept = std::fs::read(&torn.salvage_file).unwrap();
        assert_eq!(
            kept[..(valid_end - offset) as usize],
            bytes[offset as usize..valid_end as usize],
            "{what}: the damaged record is kept byte for byte"
        );
    }
}

/// With default options, once an incremental chain's base was older than the
/// retained log, `verify` failed a healthy directory with LSN_OUT_OF_RANGE.
#[test]
fn verify_passes_a_healthy_directory_with_an_incremental_chain() {
    let scratch = Scratch::new("verify-chain");
    let mut store = support::open(scratch.path()).unwrap();
    let big = store.create_page(4096, Location::Cpu, &[]).unwrap();
    let small = store.create_page(8, Location::Cpu, &[]).unwrap();
    store.apply(&dense(big, vec![1; 4096])).unwrap();
    for round in 0..4u8 {
        store.apply(&dense(small, vec![round; 8])).unwrap();
        store.checkpoint(false).unwrap();
    }
    let hash = store.state_hash();
    drop(store);
    let history = check_history(&OsFileSystem, scratch.path()).unwrap();
    assert!(!history.checks.is_empty());
    for check in &history.checks {
        assert_eq!(check.stored, check.replayed, "checkpoint at LSN {}", check.lsn);
    }
    assert_eq!(history.state.state_hash(), hash);
    assert!(history.torn_tail.is_none());
}

/// After reopening with another `checkpoints_retained`, `oldest_lsn` named
/// LSNs that `state_at` refused: it now follows the files, not the options.
#[test]
fn oldest_lsn_is_what_state_at_serves_whatever_the_options_at_reopening() {
    let scratch = Scratch::new("oldest");
    acknowledged_writes(scratch.path(), 12, &[2, 4, 6, 8, 10]);
    for retained in [1, 2, 5] {
        let store = support::open_with(
            scratch.path(),
            StoreOptions {
                checkpoints_retained: retained,
                ..small_segments()
            },
        )
        .unwrap();
        let oldest = store.oldest_lsn();
        for lsn in oldest..=store.last_lsn() {
            store
                .state_at(lsn)
                .unwrap_or_else(|error| panic!("retained {retained}: LSN {lsn} of {oldest}..: {error}"));
        }
        if oldest > 0 {
            let error = store.state_at(oldest - 1).err().expect("before the oldest");
            assert_eq!(error.code, ErrorCode::LsnOutOfRange);
        }
    }
}

/// `repair` said "the log now ends in …" on directories that still did not
/// open, and "nothing was changed" on ones it could not mend.
#[test]
fn repair_ends_with_a_directory_that_opens_or_says_why_not() {
    type Damage = fn(&[PathBuf]);
    let damages: [(&str, Damage); 3] = [
        ("a middle segment deleted", |all| {
            std::fs::remove_file(&all[all.len() / 2]).unwrap()
        }),
        ("a middle segment cut at a record boundary", |all| {
            let segment = &all[all.len() / 2];
            let first_lsn: u64 = segment.file_stem().unwrap().to_str().unwrap().parse().unwrap();
            let scan = mmsb_core::inspect::scan(&OsFileSystem, segment, first_lsn, false).unwrap();
            let file = std::fs::OpenOptions::new().write(true).open(segment).unwrap();
            file.set_len(scan.records[0].offset).unwrap();
        }),
        ("the newest segment deleted", |all| {
            std::fs::remove_file(all.last().unwrap()).unwrap()
        }),
    ];
    for (what, damage) in damages {
        let scratch = Scratch::new("repair");
        acknowledged_writes(scratch.path(), 30, &[]);
        damage(&support::segments(scratch.path()));
        assert!(open(scratch.path()).is_err(), "{what}: open refuses");
        let report = repair(&OsFileSystem, scratch.path()).unwrap_or_else(|error| panic!("{what}: {error}"));
        let store = open_strict(scratch.path()).unwrap_or_else(|error| panic!("{what}: {error}"));
        assert_eq!(store.last_lsn(), report.last_lsn, "{what}");
        assert!(!report.kept_aside.is_empty(), "{what}");
        for name in &report.kept_aside {
            assert!(
                report.salvage_dir.as_ref().unwrap().join(name).exists(),
                "{what}: {name}"
            );
        }
    }
    let scratch = Scratch::new("repair-first-missing");
    acknowledged_writes(scratch.path(), 30, &[]);
    std::fs::remove_file(&support::segments(scratch.path())[0]).unwrap();
    let error = repair(&OsFileSystem, scratch.path()).err().expect("cannot");
    assert!(error.message.contains("nothing was changed"), "{error}");
    assert_eq!(
        open(scratch.path()).err().map(|error| error.code),
        Some(ErrorCode::LogCorrupt)
    );

    let scratch = Scratch::new("repair-checkpoints-missing");
    acknowledged_writes(scratch.path(), 30, &[5, 10, 15, 20, 25]);
    assert!(!support::segments(scratch.path())[0].ends_with("00000000000000000001.log"));
    for entry in std::fs::read_dir(scratch.path().join("checkpoints")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let error = repair(&OsFileSystem, scratch.path()).err().expect("cannot");
    assert!(error.message.contains("nothing was changed"), "{error}");
    assert!(open(scratch.path()).is_err());
}

/// A second torn tail at the same offset (after a cut, new records are
/// written where the torn ones were) overwrote the first salvage file.
#[test]
fn a_second_torn_tail_at_the_same_offset_keeps_both_salvage_files() {
    let scratch = Scratch::new("torn-twice");
    acknowledged_writes(scratch.path(), 3, &[]);
    let segment = support::segments(scratch.path()).pop().unwrap();
    let (_, valid_end) = last_record_offset(&segment);
    let mut salvaged = Vec::new();
    for garbage in [&b"FIRST-GARBAGE"[..], b"SECOND-GARB"] {
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes.truncate(valid_end as usize);
        bytes.extend_from_slice(garbage);
        std::fs::write(&segment, &bytes).unwrap();
        let store = open(scratch.path()).unwrap();
        let torn = store.recovery_report().unwrap().torn_tail.clone().expect("reported");
        assert_eq!(std::fs::read(&torn.salvage_file).unwrap(), garbage);
        salvaged.push(torn.salvage_file);
    }
    assert_ne!(salvaged[0], salvaged[1]);
    assert_eq!(
        std::fs::read(&salvaged[0]).unwrap(),
        b"FIRST-GARBAGE",
        "the first is kept"
    );
}

/// A flipped bit in the seal of a sealed segment made repair cut every record
/// after it, although the next segments follow without a gap.
#[test]
fn repair_of_a_damaged_seal_keeps_every_record() {
    let scratch = Scratch::new("seal");
    let (hash, last_lsn) = acknowledged_writes(scratch.path(), 30, &[]);
    let all = support::segments(scratch.path());
    let sealed = &all[all.len() / 2];
    let mut bytes = std::fs::read(sealed).unwrap();
    let seal_kind = bytes.len() - 2;
    bytes[seal_kind] ^= 0x01;
    std::fs::write(sealed, &bytes).unwrap();
    assert_eq!(
        open(scratch.path()).err().map(|error| error.code),
        Some(ErrorCode::LogCorrupt)
    );
    let report = repair(&OsFileSystem, scratch.path()).unwrap();
    assert_eq!(report.last_lsn, last_lsn);
    let store = open_strict(scratch.path()).unwrap();
    assert_eq!(store.state_hash(), hash);
}

/// Deleting the newest checkpoint, or the oldest segment (so the fallback
/// checkpoint has no log after it), passed `verify`; `repair` then mends it.
#[test]
fn verify_reports_missing_and_unusable_checkpoints_and_repair_mends_them() {
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 2] = [
        ("the newest checkpoint deleted", |dir| {
            let mut checkpoints: Vec<PathBuf> = std::fs::read_dir(dir.join("checkpoints"))
                .unwrap()
                .map(|entry| entry.unwrap().path())
                .collect();
            checkpoints.sort();
            std::fs::remove_file(checkpoints.last().unwrap()).unwrap();
        }),
        ("the oldest segment deleted", |dir| {
            std::fs::remove_file(&support::segments(dir)[0]).unwrap()
        }),
    ];
    for (what, damage) in damages {
        let scratch = Scratch::new("verify-history");
        let options = StoreOptions {
            segment_bytes_max: 512,
            checkpoints_retained: 1,
            ..Default::default()
        };
        let (hash, last_lsn) = {
            let mut store = support::open_with(scratch.path(), options.clone()).unwrap();
            let id = store.create_page(64, Location::Cpu, &[]).unwrap();
            for value in 1..=40u8 {
                store.apply(&dense(id, vec![value; 64])).unwrap();
                if value % 10 == 0 {
                    store.checkpoint(true).unwrap();
                }
            }
            store.sync_job().unwrap().run().unwrap();
            (store.state_hash(), store.last_lsn())
        };
        assert!(
            check_history(&OsFileSystem, scratch.path())
                .unwrap()
                .problems
                .is_empty(),
            "{what}"
        );
        damage(scratch.path());
        let store = open(scratch.path()).unwrap();
        assert_eq!(store.state_hash(), hash, "{what}: opening needs none of it");
        drop(store);
        let problems = check_history(&OsFileSystem, scratch.path()).unwrap().problems;
        assert!(!problems.is_empty(), "{what}: verify must report it");
        let report = repair(&OsFileSystem, scratch.path()).unwrap();
        assert!(
            report.salvage_dir.is_some() || report.checkpoint_written.is_some(),
            "{what}: repair changes something"
        );
        assert_eq!(report.last_lsn, last_lsn, "{what}");
        let history = check_history(&OsFileSystem, scratch.path()).unwrap();
        assert!(history.problems.is_empty(), "{what}: {:?}", history.problems);
        assert_eq!(history.state.state_hash(), hash, "{what}");
    }
}

/// A whole record frame with a valid checksum.
fn framed(lsn: u64, kind: RecordKind, body: &[u8]) -> Vec<u8> {
    let mut bytes = header(lsn, kind, false, &[body]).unwrap().to_vec();
    bytes.extend_from_slice(body);
    bytes
}

fn wave(outputs: &[(u64, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    mmsb_core::log::wave_body::encode(outputs.len(), outputs.iter().copied(), &mut body);
    body
}

/// Puts `forged` (a whole frame) in place of the record at `lsn`; returns
/// its segment, the segment's bytes after that and the record's offset.
fn replace_record(dir: &Path, lsn: u64, forged: &[u8]) -> (PathBuf, Vec<u8>, u64) {
    let all = support::segments(dir);
    for (index, segment) in all.iter().enumerate() {
        let first_lsn: u64 = segment.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let scan = mmsb_core::inspect::scan(&OsFileSystem, segment, first_lsn, index + 1 == all.len()).unwrap();
        if let Some(record) = scan.records.iter().find(|record| record.lsn == lsn) {
            let (start, end) = (
                record.offset as usize,
                record.offset as usize + HEADER_BYTES + record.body_bytes as usize,
            );
            let bytes = std::fs::read(segment).unwrap();
            let bytes = [&bytes[..start], forged, &bytes[end..]].concat();
            std::fs::write(segment, &bytes).unwrap();
            return (segment.clone(), bytes, record.offset);
        }
    }
    panic!("no record at LSN {lsn}")
}

/// A record that frames correctly (valid checksum) but does not apply made
/// `repair` fail ("moved 0 file(s) … still does not check out") and leave an
/// empty salvage directory: the history now ends before it, with its segment
/// cut there and everything after it kept aside.
#[test]
fn repair_ends_the_history_before_a_framed_record_that_does_not_apply() {
    type Forge = fn(u64) -> Vec<u8>;
    let forgeries: [(&str, Forge); 3] = [
        ("a dense delta of the wrong size", |lsn| {
            framed(lsn, RecordKind::Deltas, &encode_for_log(&[dense(1, vec![7; 32])]))
        }),
        ("a wave output of the wrong size", |lsn| {
            framed(lsn, RecordKind::Wave, &wave(&[(1, &[7; 32])]))
        }),
        ("a wave naming a page that does not exist", |lsn| {
            framed(lsn, RecordKind::Wave, &wave(&[(2, &[7; 64])]))
        }),
    ];
    let bad_lsn = 15;
    let expected = Scratch::new("repair-unapplied-expected");
    let (expected_hash, expected_lsn) = acknowledged_writes(expected.path(), bad_lsn as u8 - 2, &[]);
    assert_eq!(expected_lsn, bad_lsn - 1);
    for (what, forge) in forgeries {
        let scratch = Scratch::new("repair-unapplied");
        acknowledged_writes(scratch.path(), 30, &[]);
        let (segment, forged_bytes, offset) = replace_record(scratch.path(), bad_lsn, &forge(bad_lsn));
        let later: Vec<(PathBuf, Vec<u8>)> = support::segments(scratch.path())
            .into_iter()
            .filter(|path| *path > segment)
            .map(|path| {
                let bytes = std::fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect();
        assert!(!later.is_empty(), "{what}");
        let error = open(scratch.path()).err().expect("open refuses");
        assert_eq!(error.code, ErrorCode::LogCorrupt, "{what}: {error}");
        let report = repair(&OsFileSystem, scratch.path()).unwrap_or_else(|error| panic!("{what}: {error}"));
        assert_eq!(report.last_lsn, bad_lsn - 1, "{what}");
        let name = segment.file_name().unwrap().to_str().unwrap().to_owned();
        assert_eq!(report.cut_at, Some((name.clone(), offset)), "{what}");
        let salvage = report.salvage_dir.clone().expect("a salvage directory");
        assert_eq!(
            std::fs::read(salvage.join(&name)).unwrap(),
            forged_bytes,
            "{what}: the cut segment is kept byte for byte"
        );
        assert_eq!(
            std::fs::read(&segment).unwrap(),
            forged_bytes[..offset as usize],
            "{what}"
        );
        for (path, bytes) in &later {
            assert!(!path.exists(), "{what}: {path:?} is moved aside");
            assert_eq!(
                &std::fs::read(salvage.join(path.file_name().unwrap())).unwrap(),
                bytes,
                "{what}"
            );
        }
        let store = open_strict(scratch.path()).unwrap_or_else(|error| panic!("{what}: {error}"));
        assert_eq!(store.last_lsn(), bad_lsn - 1, "{what}");
        assert_eq!(store.state_hash(), expected_hash, "{what}");
        drop(store);
        let again = repair(&OsFileSystem, scratch.path()).unwrap();
        assert!(
            again.salvage_dir.is_none() && again.kept_aside.is_empty(),
            "{what}: a second repair is a no-op"
        );
        assert_eq!(again.last_lsn, bad_lsn - 1, "{what}");
    }
}

/// A repair that finds nothing to cut or move aside (a checkpoint from
/// another history: it loads, but the log disagrees with it) left an empty
/// salvage directory behind.
#[test]
fn a_repair_that_keeps_nothing_aside_leaves_no_salvage_directory() {
    let scratch = Scratch::new("repair-nothing");
    let other = Scratch::new("repair-nothing-other");
    for (dir, value) in [(scratch.path(), 1u8), (other.path(), 2)] {
        let mut store = open(dir).unwrap();
        let id = store.create_page(64, Location::Cpu, &[]).unwrap();
        for round in 0..3u8 {
            store.apply(&dense(id, vec![value + round; 64])).unwrap();
            store.checkpoint(true).unwrap();
        }
    }
    let mut checkpoints: Vec<PathBuf> = std::fs::read_dir(scratch.path().join("checkpoints"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    checkpoints.sort();
    assert!(checkpoints.len() >= 2);
    let newest = checkpoints.last().unwrap();
    std::fs::copy(
        other.path().join("checkpoints").join(newest.file_name().unwrap()),
        newest,
    )
    .unwrap();
    let error = repair(&OsFileSystem, scratch.path()).err().expect("cannot mend it");
    let salvage: Vec<_> = std::fs::read_dir(scratch.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("salvage"))
        .collect();
    assert!(salvage.is_empty(), "{salvage:?}");
    assert!(error.message.contains("found no file to cut or move aside"), "{error}");
}
