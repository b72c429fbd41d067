//! Rebuilding a state from a checkpoint and the log after it: on open
//! (recovery), for time travel (`state_at`) and for `verify`.
//!
//! Recovery cross-checks what the files say of each other, so that a lost
//! file is seen rather than read as a shorter history:
//! - a checkpoint at LSN `c` is written only after the log is synced past
//!   `c`, so a log ending before the newest checkpoint has lost records;
//! - a sealed segment names its successor, so a newest segment that is
//!   sealed has lost the segments after it;
//! - a directory with checkpoints has log segments too.
//!
//! A torn tail (bytes after the last valid record of the newest segment that
//! are neither records nor fill, with no valid record behind them) is the
//! trace of an interrupted write, or of damage to the last records. The
//! recovery mode decides: `SalvageTail` (the default) moves the bytes into
//! `<dir>/salvage/` and cuts them, reporting it; `Strict` refuses to open.

use std::path::{Path, PathBuf};

use crate::checkpoint::{checkpoint_name, load_checkpoint_with};
use crate::directory::{unused_name, DirectoryFiles};
use crate::error::{fail, Error, ErrorCode, Result};
use crate::log::body::{decode, Change};
use crate::log::read_ahead::{read_ahead, ReadSegment};
use crate::log::record::Record;
use crate::log::segment::segment_name;
use crate::names::Named;
use crate::page_memory::MemoryConfig;
use crate::state::State;
use crate::storage::{write_synced, FileSystem};

/// What recovery does with a torn tail, as RocksDB's recovery modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecoveryMode {
    /// Cut the torn tail, keeping its bytes in a salvage file, and report it.
    #[default]
    SalvageTail,
    /// Refuse to open when the log has a torn tail.
    Strict,
}

impl Named for RecoveryMode {
    const ALL: &'static [RecoveryMode] = &[RecoveryMode::SalvageTail, RecoveryMode::Strict];
    const WHAT: &'static str = "recovery mode";

    fn name(self) -> &'static str {
        match self {
            RecoveryMode::SalvageTail => "salvage-tail",
            RecoveryMode::Strict => "strict",
        }
    }
}

/// Where the log's valid records end, for the writer to continue there.
pub struct LogTail {
    pub segment_path: PathBuf,
    pub segment_first_lsn: u64,
    pub valid_len: u64,
    /// Where the torn bytes after `valid_len` end (`valid_len` when none).
    pub torn_end: u64,
    /// The file's length (records, torn bytes, fill).
    pub file_len: u64,
    /// The segment's fill byte (segment.rs); `None` when its header is torn.
    pub fill: Option<u8>,
    /// The next segment's first LSN when the segment ends in a seal.
    pub sealed: Option<u64>,
}

impl LogTail {
    pub fn torn_bytes(&self) -> u64 {
        self.torn_end - self.valid_len
    }
}

/// The result of replaying the log onto a base state.
pub struct Replayed {
    pub state: State,
    /// The LSN of the checkpoint the replay started from (0: none).
    pub base_lsn: u64,
    /// The checkpoints the replayed records announce (checkpoint markers), ascending.
    pub checkpoint_markers: Vec<u64>,
    pub last_lsn: u64,
    /// Present when the replay went to the end of the log.
    pub tail: Option<LogTail>,
}

/// Loads the newest checkpoint at or below `at_most_lsn` that is valid and
/// has the log after it (`log_first_lsn`: the first LSN of the oldest
/// segment), falling back to older ones. Returns the state and its LSN; with
/// no usable checkpoint, an empty state at LSN 0 when the log starts at LSN 1.
/// The state's page memory follows `memory`.
pub fn load_base(
    fs: &dyn FileSystem,
    checkpoint_dir: &Path,
    checkpoints: &[u64],
    at_most_lsn: u64,
    log_first_lsn: u64,
    memory: &MemoryConfig,
) -> Result<(State, u64)> {
    let mut failures: Vec<Error> = Vec::new();
    let reachable = |lsn: u64| lsn <= at_most_lsn && lsn.saturating_add(1) >= log_first_lsn;
    for &lsn in checkpoints.iter().rev().filter(|&&lsn| reachable(lsn)) {
        match load_checkpoint_with(fs, checkpoint_dir, lsn, memory) {
            Ok(state) => return Ok((state, lsn)),
            Err(error) if error.code == ErrorCode::CheckpointCorrupt => failures.push(error),
            Err(error) => return Err(error),
        }
    }
    if log_first_lsn == 1 {
        return Ok((State::with_memory(memory), 0));
    }
    match failures.into_iter().next() {
        Some(error) => Err(Error::new(
            ErrorCode::CheckpointCorrupt,
            format!(
                "{}; no older checkpoint with the log after it can stand in (the log starts at LSN {log_first_lsn})",
                error.message
            ),
        )),
        None => fail!(
            LogCorrupt,
            "no checkpoint covers the log, which starts at LSN {log_first_lsn}: the records \
             before it are missing (segment {} is the oldest)",
            segment_name(log_first_lsn)
        ),
    }
}

/// How replay reads segments: mapped (no copy out of the page cache; only
/// under the directory's lock, so no writer cuts a file under the mapping),
/// or read into memory (inspection of a directory a bus may hold).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentReads {
    Mapped,
    Copied,
}

/// Replays the records after `base_lsn` (up to `until_lsn`, or the end) from
/// the segments whose first LSNs are `segments` (ascending). Changes no file.
pub fn replay(
    fs: &dyn FileSystem,
    log_dir: &Path,
    segments: &[u64],
    state: State,
    base_lsn: u64,
    until_lsn: Option<u64>,
    reads: SegmentReads,
) -> Result<Replayed> {
    let read = segments_to_read(segments, base_lsn, until_lsn);
    read_ahead(fs, log_dir, &read, segments.last().copied(), reads, |segments_read| {
        replay_read(segments_read, segments, state, base_lsn, until_lsn)
    })
}

/// The segments a replay after `base_lsn` reads: from the one holding LSN
/// `base_lsn + 1` up to the one holding `until_lsn` (or the newest).
fn segments_to_read(segments: &[u64], base_lsn: u64, until_lsn: Option<u64>) -> Vec<u64> {
    segments
        .iter()
        .enumerate()
        .filter(|&(index, _)| {
            let next_first = segments.get(index + 1).copied();
            next_first.is_none_or(|next| next > base_lsn.saturating_add(1))
        })
        .map(|(_, &first_lsn)| first_lsn)
        .take_while(|&first_lsn| until_lsn.is_none_or(|until| first_lsn <= until))
        .collect()
}

/// `replay`'s work on the segments `segments_to_read` named, as `read_ahead` yields them.
fn replay_read(
    segments_read: &mut dyn Iterator<Item = Result<ReadSegment>>,
    segments: &[u64],
    mut state: State,
    base_lsn: u64,
    until_lsn: Option<u64>,
) -> Result<Replayed> {
    let mut last_lsn = base_lsn;
    let mut tail = None;
    let mut checkpoint_markers = Vec::new();
    let mut reached_until = false;
    'segments: for read in segments_read {
        let segment = read?;
        let (name, first_lsn) = (&segment.name, segment.first_lsn);
        if first_lsn > last_lsn.saturating_add(1) {
            return fail!(
                LogCorrupt,
                "segment {name} starts at LSN {first_lsn}, but the log before it ends at LSN {last_lsn}: \
                     the records between are missing"
            );
        }
        for (record, offset) in segment.records() {
            if record.lsn <= base_lsn {
                continue;
            }
            if until_lsn.is_some_and(|until| record.lsn > until) {
                reached_until = true;
                break 'segments;
            }
            if let Some(lsn) = apply_record(&mut state, &record, name, offset)? {
                checkpoint_markers.push(lsn);
            }
            last_lsn = record.lsn;
        }
        let next_first = segments.get(segments.partition_point(|&lsn| lsn <= first_lsn)).copied();
        if let Some(next) = next_first {
            let after = segment.next_lsn();
            if next != after {
                return fail!(
                    LogCorrupt,
                    "segment {name} offset {}: the records end before LSN {after}, but the next segment \
                     starts at LSN {next}",
                    segment.valid_end
                );
            }
        } else {
            tail = Some(LogTail {
                fill: segment.fill(),
                segment_first_lsn: first_lsn,
                valid_len: segment.valid_end as u64,
                torn_end: segment.torn_end as u64,
                file_len: segment.bytes.len() as u64,
                sealed: segment.sealed,
                segment_path: segment.path,
            });
        }
    }
    if reached_until {
        return Ok(Replayed {
            state,
            base_lsn,
            checkpoint_markers,
            last_lsn,
            tail: None,
        });
    }
    if let Some(until) = until_lsn {
        if last_lsn < until {
            return fail!(LsnOutOfRange, "LSN {until} is after the last record, LSN {last_lsn}");
        }
    }
    Ok(Replayed {
        state,
        base_lsn,
        checkpoint_markers,
        last_lsn,
        tail,
    })
}

/// Decodes `record`, at `offset` of segment `name`, and applies it to
/// `state`; returns the checkpoint it announces when it is a checkpoint
/// marker. A record that does not decode or apply is `LOG_CORRUPT` naming
/// where it lies, unless the machine failed it (a page that needs CUDA where
/// there is none, a device that failed): that keeps its own code.
pub fn apply_record(state: &mut State, record: &Record<'_>, name: &str, offset: usize) -> Result<Option<u64>> {
    let corrupt = |message: String| {
        Error::new(
            ErrorCode::LogCorrupt,
            format!("segment {name} offset {offset}: {message}"),
        )
    };
    let body = record.body().map_err(corrupt)?;
    let change = decode(record.kind, &body).map_err(corrupt)?;
    state.apply_change(&change).map_err(|error| {
        let code = match error.code {
            ErrorCode::CudaUnavailable
            | ErrorCode::DeviceNotFound
            | ErrorCode::DeviceOutOfMemory
            | ErrorCode::DeviceFailed => error.code,
            _ => ErrorCode::LogCorrupt,
        };
        Error::new(
            code,
            format!(
                "segment {name} offset {offset}: record LSN {} ({}) does not apply: {}",
                record.lsn,
                record.kind.name(),
                error
            ),
        )
    })?;
    Ok(match change {
        Change::Checkpoint { lsn } => Some(lsn),
        _ => None,
    })
}

/// Replays a data directory to the end of its log and checks that its files
/// agree (module comment). The torn tail, if any, is reported in the tail,
/// not cut: that is the caller's decision. The state's page memory follows `memory`.
pub fn recover(
    fs: &dyn FileSystem,
    dir: &Path,
    files: &DirectoryFiles,
    memory: &MemoryConfig,
    reads: SegmentReads,
) -> Result<Replayed> {
    let checkpoint_dir = dir.join("checkpoints");
    if let (None, Some(&newest)) = (files.segments.first(), files.checkpoints.last()) {
        return fail!(
            LogCorrupt,
            "the log has no segments, but checkpoint {} exists: the log was deleted",
            checkpoint_name(newest)
        );
    }
    let log_first_lsn = files.log_first_lsn();
    // The log is read (read_ahead's thread) while the checkpoint loads, from the
    // newest checkpoint that can be the base; when load_base refuses that one
    // and falls back to an older one, the replay reads again from there.
    let log_dir = dir.join("log");
    let likely_base = files
        .checkpoints
        .iter()
        .rev()
        .find(|&&lsn| lsn.saturating_add(1) >= log_first_lsn)
        .copied()
        .unwrap_or(0);
    let read = segments_to_read(&files.segments, likely_base, None);
    let replayed = read_ahead(
        fs,
        &log_dir,
        &read,
        files.segments.last().copied(),
        reads,
        |segments_read| {
            let (base, base_lsn) = load_base(fs, &checkpoint_dir, &files.checkpoints, u64::MAX, log_first_lsn, memory)?;
            if base_lsn == likely_base {
                replay_read(segments_read, &files.segments, base, base_lsn, None)
            } else {
                replay(fs, &log_dir, &files.segments, base, base_lsn, None, reads)
            }
        },
    )?;
    if let Some(tail) = &replayed.tail {
        if let Some(next) = tail.sealed {
            return fail!(
                LogCorrupt,
                "segment {} is sealed and continues in segment {}, which is missing: the records from LSN {next} on are lost",
                segment_name(tail.segment_first_lsn),
                segment_name(next)
            );
        }
    }
    if let Some(&newest) = files.checkpoints.last() {
        if newest > replayed.last_lsn {
            return fail!(
                LogCorrupt,
                "checkpoint {} is at LSN {newest}, but the log ends at LSN {}: log records are missing",
                checkpoint_name(newest),
                replayed.last_lsn
            );
        }
    }
    Ok(replayed)
}

/// A torn tail that recovery cut.
#[derive(Clone, Debug)]
pub struct TornTail {
    /// The segment's file name.
    pub segment: String,
    /// Where the cut starts: the end of the last valid record.
    pub offset: u64,
    /// The bytes cut (trailing fill not counted).
    pub bytes: u64,
    /// The file that keeps them.
    pub salvage_file: PathBuf,
}

/// Applies `mode` to the torn tail of `tail`: refuses (`Strict`), or copies
/// the torn bytes into `<dir>/salvage/<segment>.<offset>.torn` (synced) and
/// then cuts the segment to its valid records.
pub fn cut_torn_tail(fs: &dyn FileSystem, dir: &Path, tail: &LogTail, mode: RecoveryMode) -> Result<TornTail> {
    let segment = segment_name(tail.segment_first_lsn);
    if mode == RecoveryMode::Strict {
        return fail!(
            LogCorrupt,
            "strict recovery refuses to open: segment {segment} offset {}: {} bytes after the last \
             valid record are not a record (an interrupted write, or damaged last records); open \
             with recovery \"salvage-tail\" to cut them into a salvage file, or run `mmsb repair`",
            tail.valid_len,
            tail.torn_bytes()
        );
    }
    let bytes = fs
        .read_all(&tail.segment_path)
        .map_err(|error| Error::io("reading log segment", &tail.segment_path, &error))?;
    let torn = bytes
        .get(tail.valid_len as usize..tail.torn_end as usize)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::IoError,
                format!("segment {segment} changed while it was recovered"),
            )
        })?;
    let salvage_dir = dir.join("salvage");
    fs.create_dir_all(&salvage_dir)
        .map_err(|error| Error::io("creating", &salvage_dir, &error))?;
    // A later crash may tear the log at the same offset again: never overwrite a kept tail.
    let salvage_file = salvage_dir.join(unused_name(fs, &salvage_dir, |attempt| match attempt {
        1 => format!("{segment}.{}.torn", tail.valid_len),
        _ => format!("{segment}.{}.{attempt}.torn", tail.valid_len),
    })?);
    if let Err(error) = write_synced(fs, &salvage_file, torn).and_then(|()| fs.sync_dir(&salvage_dir)) {
        // A part of the tail kept nothing safe and took room: on a full disk each
        // retry would leave one more, until nothing could ever be salvaged.
        let _ = fs.remove(&salvage_file);
        return Err(Error::io("writing salvage file", &salvage_file, &error));
    }
    fs.truncate(&tail.segment_path, tail.valid_len)
        .map_err(|error| Error::io("cutting the torn tail of", &tail.segment_path, &error))?;
    Ok(TornTail {
        segment,
        offset: tail.valid_len,
        bytes: torn.len() as u64,
        salvage_file,
    })
}
