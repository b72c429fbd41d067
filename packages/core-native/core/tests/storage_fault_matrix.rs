//! The storage fault matrix: every file of a data directory (each log
//! segment, sealed or newest; each checkpoint of a chain, its base and the
//! fallback full one; the lock file) is deleted, truncated at every record
//! boundary and inside records, zero-filled, bit-flipped and given trailing
//! garbage, one fault at a time, after every write was acknowledged.
//!
//! For each case the store must either open with every acknowledged write,
//! or open at an earlier state with a warning (a torn tail kept in a salvage
//! file, which strict recovery refuses instead), or refuse with a typed
//! error naming the file; and `repair` must then bring back a directory that
//! opens at a state the history really had. The only cases allowed to lose
//! acknowledged writes silently are the ones the fault model in
//! docs/ARCHITECTURE.md lists as undetectable.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mmsb_core::recovery::RecoveryMode;
use mmsb_core::storage::OsFileSystem;
use mmsb_core::{ErrorCode, Location, StateHash, StoreOptions};
use support::{dense, Scratch};

fn options(recovery_mode: RecoveryMode) -> StoreOptions {
    StoreOptions {
        segment_bytes_max: 1024,
        recovery_mode,
        ..Default::default()
    }
}

/// The history the pristine directory holds: the state hash after each LSN
/// (LSNs that change nothing, checkpoint markers, map to the hash before).
struct Model {
    hashes: BTreeMap<u64, StateHash>,
    last_lsn: u64,
}

impl Model {
    fn hash_at(&self, lsn: u64) -> StateHash {
        *self.hashes.range(..=lsn).next_back().expect("a hash at or before").1
    }
}

/// Writes a directory with several sealed segments, a newest one, a full
/// checkpoint as fallback, and a full base with an incremental checkpoint on
/// it; every write is synced (acknowledged) before the next.
fn write_pristine(dir: &Path) -> Model {
    let mut store = support::open_with(dir, options(RecoveryMode::SalvageTail)).unwrap();
    let mut hashes = BTreeMap::from([(0, store.state_hash())]);
    let mut note = |store: &mmsb_core::Store| {
        store.sync_job().unwrap().run().unwrap();
        hashes.insert(store.last_lsn(), store.state_hash());
    };
    let big = store.create_page(8192, Location::Cpu, &[]).unwrap();
    let small = store.create_page(64, Location::Cpu, &[]).unwrap();
    note(&store);
    let mut value = 0u8;
    for round in 0..5 {
        for _ in 0..6 {
            value = value.wrapping_add(1);
            let page = if round == 0 && value.is_multiple_of(3) {
                big
            } else {
                small
            };
            let size = if page == big { 8192 } else { 64 };
            store.apply(&dense(page, vec![value; size])).unwrap();
            note(&store);
        }
        if round < 4 {
            store.checkpoint(round == 2).unwrap();
            note(&store);
        }
    }
    let last_lsn = store.last_lsn();
    Model { hashes, last_lsn }
}

#[derive(Clone, Debug)]
enum Fault {
    Delete,
    Truncate(u64),
    ZeroFill(u64, u64),
    FlipBit(u64),
    AppendGarbage,
}

#[derive(Clone, Debug)]
struct Case {
    /// The file, relative to the data directory.
    file: PathBuf,
    fault: Fault,
    /// What the fault model says of it: `true` when it is listed as undetectable.
    undetectable: bool,
}

fn apply_fault(dir: &Path, case: &Case) {
    let path = dir.join(&case.file);
    let mut bytes = std::fs::read(&path).unwrap_or_default();
    match case.fault {
        Fault::Delete => return std::fs::remove_file(&path).unwrap(),
        Fault::Truncate(len) => bytes.truncate(len as usize),
        Fault::ZeroFill(from, to) => {
            let end = (to as usize).min(bytes.len());
            bytes[(from as usize).min(end)..end].fill(0);
        }
        Fault::FlipBit(offset) => {
            if let Some(byte) = bytes.get_mut(offset as usize) {
                *byte ^= 0x10;
            }
        }
        Fault::AppendGarbage => bytes.extend((0..100u32).map(|index| (index * 73 + 41) as u8)),
    }
    std::fs::write(&path, &bytes).unwrap();
}

/// Every file under `dir` with its bytes, to see that a refusal changed nothing.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            files.extend(snapshot(&entry.path()));
        } else {
            files.insert(entry.path(), std::fs::read(entry.path()).unwrap());
        }
    }
    files
}

fn cases(pristine: &Path) -> Vec<Case> {
    let listing = mmsb_core::inspect::list(&OsFileSystem, pristine).unwrap();
    let relative = |path: &Path| path.strip_prefix(pristine).unwrap().to_owned();
    let mut cases = Vec::new();
    let newest_index = listing.segments.len() - 1;
    for (index, segment) in listing.segments.iter().enumerate() {
        let is_newest = index == newest_index;
        let scan = mmsb_core::inspect::scan(&OsFileSystem, &segment.path, segment.number, is_newest).unwrap();
        let file = relative(&segment.path);
        let mut add = |fault: Fault, undetectable: bool| {
            cases.push(Case {
                file: file.clone(),
                fault,
                undetectable,
            })
        };
        add(Fault::Delete, false);
        add(Fault::AppendGarbage, false);
        add(Fault::Truncate(10), false);
        add(Fault::FlipBit(3), false);
        // Cutting the newest segment exactly after a record is a lost write
        // of whole records: the log then ends there like any shorter log.
        add(Fault::Truncate(scan.valid_end), false);
        add(Fault::FlipBit(segment.bytes - 1), false);
        for record in &scan.records {
            let start = record.offset;
            let end = start + 18 + record.body_bytes;
            add(Fault::Truncate(start), is_newest);
            add(Fault::Truncate(start + 9), false);
            add(Fault::Truncate(end - 1), false);
            add(Fault::ZeroFill(start, segment.bytes), false);
            add(Fault::ZeroFill(start, start + 8), false);
            add(Fault::FlipBit(start + 5), false);
            add(Fault::FlipBit(end - 1), false);
        }
    }
    for checkpoint in &listing.checkpoints {
        let file = relative(&checkpoint.path);
        let len = checkpoint.bytes;
        for fault in [
            Fault::Delete,
            Fault::Truncate(0),
            Fault::Truncate(50),
            Fault::Truncate(len - 1),
            Fault::ZeroFill(0, len),
            Fault::ZeroFill(len / 2, len),
            Fault::FlipBit(20),
            Fault::FlipBit(len / 2),
            Fault::FlipBit(len - 1),
            Fault::AppendGarbage,
        ] {
            cases.push(Case {
                file: file.clone(),
                fault,
                undetectable: false,
            });
        }
    }
    for fault in [Fault::Delete, Fault::AppendGarbage] {
        cases.push(Case {
            file: PathBuf::from("LOCK"),
            fault,
            undetectable: false,
        });
    }
    cases
}

/// How one case came out.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Opened with every acknowledged write.
    Intact,
    /// Opened at an earlier LSN, with the torn tail kept in a salvage file.
    Salvaged,
    /// Opened at an earlier LSN with no warning: only for undetectable faults.
    SilentlyShorter,
    /// Refused with a typed error naming the file; repair then restored a state of the history.
    Refused,
}

fn run_case(pristine: &Path, model: &Model, case: &Case) -> Outcome {
    let scratch = Scratch::new("fault-case");
    support::copy_dir(pristine, scratch.path());
    apply_fault(scratch.path(), case);
    let before = snapshot(scratch.path());
    let strict = support::open_with(scratch.path(), options(RecoveryMode::Strict));
    let strict_refused = strict.is_err();
    drop(strict);
    if strict_refused {
        assert_eq!(before, snapshot(scratch.path()), "{case:?}: a refusal changes no file");
    }
    match support::open_with(scratch.path(), options(RecoveryMode::SalvageTail)) {
        Ok(store) => {
            let last = store.last_lsn();
            assert_eq!(
                store.state_hash(),
                model.hash_at(last),
                "{case:?}: opened at LSN {last} with a state the history never had"
            );
            let torn = store.recovery_report().unwrap().torn_tail.clone();
            if let Some(torn) = &torn {
                assert!(strict_refused, "{case:?}: strict recovery must refuse a torn tail");
                assert_eq!(
                    std::fs::metadata(&torn.salvage_file).unwrap().len(),
                    torn.bytes,
                    "{case:?}: the salvage file keeps the cut bytes"
                );
            }
            match (last == model.last_lsn, torn.is_some()) {
                (true, _) => Outcome::Intact,
                (false, true) => Outcome::Salvaged,
                (false, false) => {
                    assert!(
                        case.undetectable,
                        "{case:?}: acknowledged writes after LSN {last} lost without an error or warning"
                    );
                    Outcome::SilentlyShorter
                }
            }
        }
        Err(error) => {
            assert!(
                matches!(error.code, ErrorCode::LogCorrupt | ErrorCode::CheckpointCorrupt),
                "{case:?}: {error}"
            );
            let name = case.file.file_name().unwrap().to_string_lossy().into_owned();
            let names_a_file = error.message.contains(".log") || error.message.contains(".ckpt");
            assert!(names_a_file, "{case:?}: the error names no file: {error}");
            if matches!(case.fault, Fault::FlipBit(_) | Fault::ZeroFill(..)) && name.ends_with(".log") {
                assert!(error.message.contains("offset"), "{case:?}: no offset in {error}");
            }
            repair_and_check(scratch.path(), model, case);
            Outcome::Refused
        }
    }
}

/// `repair` either refuses, changing nothing, or leaves a directory that
/// opens cleanly at a state of the history, keeping what it cut aside.
fn repair_and_check(dir: &Path, model: &Model, case: &Case) {
    let before = snapshot(dir);
    match mmsb_core::inspect::repair(&OsFileSystem, dir) {
        Ok(report) => {
            assert!(
                report.salvage_dir.is_some() || report.checkpoint_written.is_some(),
                "{case:?}: repair must change something"
            );
            let store = support::open_with(dir, options(RecoveryMode::Strict))
                .unwrap_or_else(|error| panic!("{case:?}: does not open after repair: {error}"));
            assert_eq!(store.last_lsn(), report.last_lsn, "{case:?}");
            assert_eq!(store.state_hash(), model.hash_at(report.last_lsn), "{case:?}");
        }
        Err(error) => {
            assert!(
                error.message.contains("nothing was changed"),
                "{case:?}: repair failed without saying why: {error}"
            );
            assert_eq!(before, snapshot(dir), "{case:?}: a refused repair changes no file");
        }
    }
}

#[test]
fn every_single_fault_is_survived_detected_or_listed_as_undetectable() {
    let pristine = Scratch::new("fault-pristine");
    let model = write_pristine(pristine.path());
    let listing = mmsb_core::inspect::list(&OsFileSystem, pristine.path()).unwrap();
    assert!(listing.segments.len() >= 4, "sealed segments and a newest one");
    assert!(listing.checkpoints.len() >= 3, "a fallback, a base and an increment");
    let cases = cases(pristine.path());
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for case in &cases {
        let outcome = run_case(pristine.path(), &model, case);
        *tally.entry(format!("{outcome:?}")).or_default() += 1;
    }
    eprintln!("{} fault cases: {tally:?}", cases.len());
    assert!(tally.get("Refused").copied().unwrap_or(0) > 0);
    assert!(tally.get("Salvaged").copied().unwrap_or(0) > 0);
    assert!(tally.get("Intact").copied().unwrap_or(0) > 0);
}
