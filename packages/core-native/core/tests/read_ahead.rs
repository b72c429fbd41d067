//! Recovery reads the log one segment ahead of replay (log/read_ahead.rs):
//! what it reports, and in what order, is what a replay that reads one
//! segment at a time reports, and it holds at most the segment replayed and
//! the one after it.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

use mmsb_core::inspect::{check_history, scan};
use mmsb_core::log::body::encode_page_release;
use mmsb_core::log::read_ahead::read_ahead;
use mmsb_core::log::record::{header, RecordKind};
use mmsb_core::recovery::SegmentReads;
use mmsb_core::storage::{FileSystem, OsFileSystem};
use mmsb_core::{ErrorCode, Location, StateHash, Store, StoreOptions};
use support::delegating::{Delegating, Operation};
use support::{dense, Scratch};

fn small_segments() -> StoreOptions {
    StoreOptions {
        segment_bytes_max: 512,
        ..Default::default()
    }
}

/// Writes 30 synced 64-byte deltas into segments of a few records each;
/// returns the store and the state hash after each LSN.
fn many_segments(dir: &Path) -> (Store, Vec<(u64, StateHash)>) {
    let mut store = support::open_with(dir, small_segments()).unwrap();
    let id = store.create_page(64, Location::Cpu, &[]).unwrap();
    let mut hashes = vec![(store.last_lsn(), store.state_hash())];
    for value in 1..=30u8 {
        store.apply(&dense(id, vec![value; 64])).unwrap();
        store.sync_job().unwrap().run().unwrap();
        hashes.push((store.last_lsn(), store.state_hash()));
    }
    assert!(support::segments(dir).len() >= 6, "the log spans many segments");
    (store, hashes)
}

fn first_lsn(segment: &Path) -> u64 {
    segment.file_stem().unwrap().to_str().unwrap().parse().unwrap()
}

fn name(segment: &Path) -> String {
    segment.file_name().unwrap().to_str().unwrap().to_owned()
}

/// Flips a bit in the body of the first record of a sealed `segment`.
fn damage_first_record(segment: &Path) {
    let records = scan(&OsFileSystem, segment, first_lsn(segment), false).unwrap().records;
    let mut bytes = std::fs::read(segment).unwrap();
    bytes[records[0].offset as usize + 20] ^= 0x10;
    std::fs::write(segment, &bytes).unwrap();
}

/// Rewrites the sealed `segment` with its second record replaced by a valid
/// record that does not apply (the release of a page that never existed);
/// returns that record's LSN and offset.
fn plant_record_that_does_not_apply(segment: &Path) -> (u64, u64) {
    let scanned = scan(&OsFileSystem, segment, first_lsn(segment), false).unwrap();
    let bytes = std::fs::read(segment).unwrap();
    let planted = &scanned.records[1];
    let mut rewritten = bytes[..scanned.records[0].offset as usize].to_vec();
    for record in &scanned.records {
        let start = record.offset as usize;
        if record.lsn == planted.lsn {
            let body = encode_page_release(999);
            rewritten.extend_from_slice(&header(record.lsn, RecordKind::PageRelease, false, &[&body]).unwrap());
            rewritten.extend_from_slice(&body);
        } else {
            rewritten.extend_from_slice(&bytes[start..start + 18 + record.body_bytes as usize]);
        }
    }
    rewritten.extend_from_slice(&bytes[scanned.valid_end as usize..]);
    std::fs::write(segment, rewritten).unwrap();
    (planted.lsn, planted.offset)
}

/// The reader has the next segment (damaged) in hand while the replay
/// applies a record that does not apply: the replay's error is reported,
/// as when segments were read one at a time, by open and by verify.
#[test]
fn a_record_that_does_not_apply_wins_over_damage_in_the_next_segment() {
    let scratch = Scratch::new("read-ahead-order");
    let segments = {
        many_segments(scratch.path());
        support::segments(scratch.path())
    };
    let (lsn, offset) = plant_record_that_does_not_apply(&segments[2]);
    damage_first_record(&segments[3]);
    let expected = format!(
        "segment {} offset {offset}: record LSN {lsn} (page-release) does not apply",
        name(&segments[2])
    );
    let error = support::open_with(scratch.path(), small_segments())
        .err()
        .expect("must refuse");
    assert_eq!(error.code, ErrorCode::LogCorrupt, "{error}");
    assert!(error.message.starts_with(&expected), "{error}");
    let error = check_history(&OsFileSystem, scratch.path())
        .err()
        .expect("verify refuses");
    assert!(error.message.starts_with(&expected), "verify: {error}");
    // Without the planted record, the damage in the next segment is what is reported.
    std::fs::remove_file(&segments[2]).unwrap();
    let error = support::open_with(scratch.path(), small_segments())
        .err()
        .expect("must refuse");
    assert!(error.message.contains(&name(&segments[1])), "a gap after it: {error}");
}

/// Time travel stops inside an earlier segment while the reader may be a
/// segment ahead; damage past the stopping point is not reported, and
/// states at every LSN are those the writes produced.
#[test]
fn time_travel_stops_in_an_earlier_segment_whatever_follows() {
    let scratch = Scratch::new("read-ahead-time-travel");
    let (store, hashes) = many_segments(scratch.path());
    let segments = support::segments(scratch.path());
    let damaged = &segments[4];
    damage_first_record(damaged);
    for &(lsn, hash) in hashes.iter().filter(|&&(lsn, _)| lsn < first_lsn(damaged)) {
        let state = store.state_at(lsn).unwrap_or_else(|error| panic!("LSN {lsn}: {error}"));
        assert_eq!(state.state_hash(), hash, "state at LSN {lsn}");
    }
    let error = store
        .state_at(store.last_lsn())
        .err()
        .expect("the damage is on the way");
    assert_eq!(error.code, ErrorCode::LogCorrupt, "{error}");
    assert!(error.message.contains(&name(damaged)), "{error}");
}

/// While the replay holds segment n, the reader reads segment n + 1 and no
/// further (so at most two segments are mapped, or copied, at once), in
/// both read modes; segments are handed over in order.
#[test]
fn the_reader_is_one_segment_ahead_and_no_more() {
    let scratch = Scratch::new("read-ahead-depth");
    drop(many_segments(scratch.path()));
    let log_dir = scratch.path().join("log");
    let first_lsns: Vec<u64> = support::segments(scratch.path())
        .iter()
        .map(|path| first_lsn(path))
        .collect();
    for reads in [SegmentReads::Mapped, SegmentReads::Copied] {
        let (sender, started) = channel();
        let reads_seen = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&reads_seen);
        // The real file system, telling `started` the path of every whole-file read.
        let fs = Delegating::new(move |operation: Operation<'_>| {
            if let Operation::ReadAll(path) | Operation::MapWhole(path) = operation {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = sender.send(path.to_owned());
            }
            Ok(())
        });
        let handed = read_ahead(
            &fs,
            &log_dir,
            &first_lsns,
            first_lsns.last().copied(),
            reads,
            |segments| {
                let first = segments.next().unwrap().unwrap();
                let ahead = started.recv_timeout(Duration::from_secs(10)).unwrap();
                assert_eq!(
                    ahead,
                    log_dir.join(&first.name),
                    "{reads:?}: the first read is the first segment"
                );
                let next = started.recv_timeout(Duration::from_secs(10)).unwrap();
                assert!(next.ends_with(mmsb_core::log::segment::segment_name(first_lsns[1])));
                let further = started.recv_timeout(Duration::from_millis(300));
                assert!(
                    further.is_err(),
                    "{reads:?}: segment {further:?} is read while the first is still replayed"
                );
                let mut handed = vec![first.first_lsn];
                handed.extend(segments.map(|segment| segment.unwrap().first_lsn));
                handed
            },
        );
        assert_eq!(handed, first_lsns, "{reads:?}: every segment, in order");
        assert_eq!(
            reads_seen.load(Ordering::SeqCst),
            first_lsns.len(),
            "{reads:?}: each read once"
        );
    }
}

/// A panic while reading a segment reaches the caller of recovery as
/// itself (its message), as when the replay read segments itself, not as
/// the reading thread's anonymous "a scoped thread panicked".
#[test]
fn a_panic_in_the_reader_reaches_the_caller_with_its_message() {
    let scratch = Scratch::new("read-ahead-panic");
    drop(many_segments(scratch.path()));
    let first = support::segments(scratch.path()).remove(0);
    // The real file system, except that mapping a segment other than the
    // first panics (a bug in a file layer).
    let fs: Arc<dyn FileSystem> = Arc::new(Delegating::new(move |operation: Operation<'_>| {
        if let Operation::MapWhole(path) = operation {
            if path.parent().is_some_and(|dir| dir.ends_with("log")) && path != first {
                panic!("injected panic reading {}", path.display());
            }
        }
        Ok(())
    }));
    let open = std::panic::AssertUnwindSafe(|| Store::open(fs, scratch.path(), small_segments()));
    let panic = std::panic::catch_unwind(open).err().expect("the panic goes on");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_default();
    assert!(message.starts_with("injected panic reading"), "{message:?}");
}
