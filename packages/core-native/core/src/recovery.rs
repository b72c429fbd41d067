//! Rebuilding a state from a checkpoint and the log after it: on open
//! (recovery) and for time travel (`state_at`).

use std::path::{Path, PathBuf};

use crate::checkpoint::load_checkpoint;
use crate::error::{fail, Error, ErrorCode, Result};
use crate::log::body::decode;
use crate::log::scan::scan_segment;
use crate::log::segment::segment_name;
use crate::state::State;
use crate::storage::FileSystem;

/// Where the log's valid records end, for the writer to continue there.
pub struct LogTail {
    pub segment_path: PathBuf,
    pub segment_first_lsn: u64,
    pub valid_len: u64,
    /// The file's length after recovery (records plus any preallocated zeros).
    pub file_len: u64,
    /// Bytes after `valid_len` that were a torn write, cut by recovery.
    pub truncated_bytes: u64,
}

/// The result of replaying the log onto a base state.
pub struct Replayed {
    pub state: State,
    pub last_lsn: u64,
    /// Present when the replay went to the end of the log.
    pub tail: Option<LogTail>,
}

/// Loads the newest checkpoint at or below `at_most_lsn` that is valid,
/// falling back to older ones. Returns the state and its LSN; with no usable
/// checkpoint, an empty state at LSN 0 when the log starts at LSN 1.
pub fn load_base(
    fs: &dyn FileSystem,
    checkpoint_dir: &Path,
    checkpoints: &[u64],
    at_most_lsn: u64,
    log_starts_at_one: bool,
) -> Result<(State, u64)> {
    let mut failures: Vec<Error> = Vec::new();
    for &lsn in checkpoints.iter().rev().filter(|&&lsn| lsn <= at_most_lsn) {
        match load_checkpoint(fs, checkpoint_dir, lsn) {
            Ok(state) => return Ok((state, lsn)),
            Err(error) if error.code == ErrorCode::CheckpointCorrupt => failures.push(error),
            Err(error) => return Err(error),
        }
    }
    if log_starts_at_one {
        return Ok((State::new(), 0));
    }
    match failures.pop() {
        Some(error) => Err(Error::new(
            ErrorCode::CheckpointCorrupt,
            format!(
                "{}; no older checkpoint and no complete log to fall back on",
                error.message
            ),
        )),
        None => fail!(
            LogCorrupt,
            "no checkpoint covers the log, which starts after LSN 1 (segments are missing)"
        ),
    }
}

/// Replays the records after `base_lsn` (up to `until_lsn`, or the end) from
/// the segments whose first LSNs are `segments` (ascending). With
/// `truncate_torn`, a torn tail of the last segment is cut from the file.
pub fn replay(
    fs: &dyn FileSystem,
    log_dir: &Path,
    segments: &[u64],
    mut state: State,
    base_lsn: u64,
    until_lsn: Option<u64>,
    truncate_torn: bool,
) -> Result<Replayed> {
    let mut last_lsn = base_lsn;
    let mut tail = None;
    let mut bytes: Vec<u8> = Vec::new();
    for (index, &first_lsn) in segments.iter().enumerate() {
        let next_first = segments.get(index + 1).copied();
        if next_first.is_some_and(|next| next <= base_lsn + 1) {
            continue;
        }
        if until_lsn.is_some_and(|until| first_lsn > until) {
            break;
        }
        let name = segment_name(first_lsn);
        let path = log_dir.join(&name);
        if first_lsn > last_lsn + 1 {
            return fail!(
                LogCorrupt,
                "segment {name} starts at LSN {first_lsn}, but the log before it ends at LSN {last_lsn}"
            );
        }
        fs.read_into(&path, &mut bytes)
            .map_err(|error| Error::io("reading log segment", &path, &error))?;
        let is_last = next_first.is_none();
        let scanned = scan_segment(&name, &bytes, first_lsn, is_last)?;
        for (record, offset) in &scanned.records {
            if record.lsn <= base_lsn {
                continue;
            }
            if until_lsn.is_some_and(|until| record.lsn > until) {
                return Ok(Replayed {
                    state,
                    last_lsn,
                    tail: None,
                });
            }
            let corrupt = |message: String| {
                Error::new(
                    ErrorCode::LogCorrupt,
                    format!("segment {name} offset {offset}: {message}"),
                )
            };
            let body = record.body().map_err(corrupt)?;
            let change = decode(record.kind, &body).map_err(corrupt)?;
            state.apply_change(&change).map_err(|error| {
                Error::new(
                    ErrorCode::LogCorrupt,
                    format!(
                        "segment {name} offset {offset}: record LSN {} ({}) does not apply: {}",
                        record.lsn,
                        record.kind.name(),
                        error
                    ),
                )
            })?;
            last_lsn = record.lsn;
        }
        if let Some(next) = next_first {
            let after = first_lsn + scanned.records.len() as u64;
            if next != after {
                return fail!(
                    LogCorrupt,
                    "segment {name} ends before LSN {after}, but the next segment starts at LSN {next}"
                );
            }
        }
        if is_last {
            let tail_bytes = (bytes.len() - scanned.valid_end) as u64;
            let cut = scanned.torn && truncate_torn;
            if cut {
                fs.truncate(&path, scanned.valid_end as u64)
                    .map_err(|error| Error::io("truncating the torn tail of", &path, &error))?;
            }
            tail = Some(LogTail {
                segment_path: path,
                segment_first_lsn: first_lsn,
                valid_len: scanned.valid_end as u64,
                file_len: if cut {
                    scanned.valid_end as u64
                } else {
                    bytes.len() as u64
                },
                truncated_bytes: if scanned.torn { tail_bytes } else { 0 },
            });
        }
    }
    if let Some(until) = until_lsn {
        if last_lsn < until {
            return fail!(LsnOutOfRange, "LSN {until} is after the last record, LSN {last_lsn}");
        }
    }
    Ok(Replayed { state, last_lsn, tail })
}
