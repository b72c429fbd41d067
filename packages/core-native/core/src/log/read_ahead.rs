//! Reading the log ahead of replay: a thread maps (or reads) each segment
//! and checks every record's checksum while the replay applies the segment
//! before it, so that reading and applying overlap on two cores. The
//! segments reach the replay in order, each with its scan's outcome.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use crate::error::{Error, Result};
use crate::log::record::{Record, RecordKind};
use crate::log::scan::scan_segment;
use crate::log::segment::{read_segment_header, segment_name};
use crate::recovery::SegmentReads;
use crate::storage::{FileBytes, FileSystem};

/// One segment, read and scanned: its bytes and where its valid records are.
pub struct ReadSegment {
    pub first_lsn: u64,
    pub name: String,
    pub path: PathBuf,
    pub bytes: FileBytes,
    /// Each valid record's header fields, where its stored body lies, and the record's offset.
    records: Vec<(RecordSpan, usize)>,
    /// As `ScannedSegment`'s fields of the same names.
    pub valid_end: usize,
    pub torn_end: usize,
    pub sealed: Option<u64>,
}

/// A record without the borrow of its segment's bytes, which move between threads.
struct RecordSpan {
    lsn: u64,
    kind: RecordKind,
    body_start: usize,
    body_len: usize,
    compressed: bool,
}

impl ReadSegment {
    /// The valid records, in order, each with its offset in the segment.
    pub fn records(&self) -> impl Iterator<Item = (Record<'_>, usize)> + '_ {
        self.records.iter().map(|(span, offset)| {
            let record = Record {
                lsn: span.lsn,
                kind: span.kind,
                stored_body: &self.bytes[span.body_start..span.body_start + span.body_len],
                compressed: span.compressed,
            };
            (record, *offset)
        })
    }

    /// The LSN after the segment's last record.
    pub fn next_lsn(&self) -> u64 {
        self.first_lsn + self.records.len() as u64
    }

    /// The segment's fill byte, `None` when its header is torn.
    pub fn fill(&self) -> Option<u8> {
        read_segment_header(&self.bytes).map(|header| header.fill)
    }
}

/// Reads and scans the segments `first_lsns` of `log_dir` in order on a
/// thread of its own, one segment ahead of `consume`, which gets them (or
/// the error that stopped the reading) in order. `last` is the newest
/// segment's first LSN: only it may end torn. A segment `consume` does not
/// take is read at most. Where no thread can be started, the segments are
/// read in turn as `consume` takes them.
pub fn read_ahead<T>(
    fs: &dyn FileSystem,
    log_dir: &Path,
    first_lsns: &[u64],
    last: Option<u64>,
    reads: SegmentReads,
    consume: impl FnOnce(&mut dyn Iterator<Item = Result<ReadSegment>>) -> T,
) -> T {
    std::thread::scope(|scope| {
        // A rendezvous: a segment read waits in the reader until the replay
        // takes it, so the replay's segment and the next are all that is held.
        let (sender, receiver) = sync_channel(0);
        let spawned = std::thread::Builder::new()
            .name("mmsb-log-reader".to_owned())
            .spawn_scoped(scope, move || {
                for &first_lsn in first_lsns {
                    let read = read_segment(fs, log_dir, first_lsn, Some(first_lsn) == last, reads);
                    let failed = read.is_err();
                    if sender.send(read).is_err() || failed {
                        return;
                    }
                }
            });
        let Ok(reader) = spawned else {
            // No thread to be had (a process at its limit): read in turn, as before read-ahead.
            let mut in_turn = first_lsns
                .iter()
                .map(|&first_lsn| read_segment(fs, log_dir, first_lsn, Some(first_lsn) == last, reads));
            return consume(&mut in_turn);
        };
        let consumed = consume(&mut receiver.into_iter());
        // The receiver is gone, so the reader stops; a panic in it goes on
        // as itself, as it did when the replay read the segments.
        if let Err(panic) = reader.join() {
            std::panic::resume_unwind(panic);
        }
        consumed
    })
}

fn read_segment(
    fs: &dyn FileSystem,
    log_dir: &Path,
    first_lsn: u64,
    is_last: bool,
    reads: SegmentReads,
) -> Result<ReadSegment> {
    let name = segment_name(first_lsn);
    let path = log_dir.join(&name);
    let reading = |error| Error::io("reading log segment", &path, &error);
    let bytes = match reads {
        SegmentReads::Mapped => fs.map_whole(&path).map_err(reading)?,
        SegmentReads::Copied => FileBytes::Read(fs.read_all(&path).map_err(reading)?),
    };
    let scanned = scan_segment(&name, &bytes, first_lsn, is_last)?;
    let base = bytes.as_ptr() as usize;
    let records = scanned
        .records
        .iter()
        .map(|(record, offset)| {
            let span = RecordSpan {
                lsn: record.lsn,
                kind: record.kind,
                body_start: record.stored_body.as_ptr() as usize - base,
                body_len: record.stored_body.len(),
                compressed: record.compressed,
            };
            (span, *offset)
        })
        .collect();
    let (valid_end, torn_end, sealed) = (scanned.valid_end, scanned.torn_end, scanned.sealed);
    Ok(ReadSegment {
        first_lsn,
        name,
        path,
        bytes,
        records,
        valid_end,
        torn_end,
        sealed,
    })
}
