//! Read-only inspection of a data directory for the `mmsb` tools: listing
//! segments and checkpoints, scanning a segment, checking checkpoints and
//! replayed history against their stored hashes, and salvaging a damaged log.
//! Nothing here takes the directory's lock or changes a file, except `repair`.

use std::path::{Path, PathBuf};

use crate::checkpoint::{checkpoint_name, load_checkpoint, parse_checkpoint_name, read_header};
use crate::error::{Error, ErrorCode, Result};
use crate::log::scan::scan_segment;
use crate::log::segment::{parse_segment_name, segment_name};
use crate::recovery::{load_base, replay};
use crate::state::State;
use crate::storage::FileSystem;
use crate::StateHash;

/// A file of the data directory and its size.
#[derive(Clone, Debug)]
pub struct NumberedFile {
    pub number: u64,
    pub path: PathBuf,
    pub bytes: u64,
}

/// The segments and checkpoints of a data directory, ascending.
pub struct Listing {
    pub segments: Vec<NumberedFile>,
    pub checkpoints: Vec<NumberedFile>,
}

pub fn list(fs: &dyn FileSystem, dir: &Path) -> Result<Listing> {
    let numbered = |sub: &str, parse: fn(&str) -> Option<u64>| -> Result<Vec<NumberedFile>> {
        let sub_dir = dir.join(sub);
        let names = fs
            .list(&sub_dir)
            .map_err(|error| Error::io("listing", &sub_dir, &error))?;
        let mut files = Vec::new();
        for name in names {
            if let Some(number) = parse(&name) {
                let path = sub_dir.join(&name);
                let bytes = fs.len(&path).map_err(|error| Error::io("reading", &path, &error))?;
                files.push(NumberedFile { number, path, bytes });
            }
        }
        files.sort_by_key(|file| file.number);
        Ok(files)
    };
    Ok(Listing {
        segments: numbered("log", parse_segment_name)?,
        checkpoints: numbered("checkpoints", parse_checkpoint_name)?,
    })
}

/// One record as `mmsb log` shows it.
#[derive(Clone, Debug)]
pub struct RecordSummary {
    pub lsn: u64,
    pub kind: &'static str,
    pub offset: u64,
    pub body_bytes: u64,
}

/// What a segment holds.
pub struct SegmentScan {
    pub records: Vec<RecordSummary>,
    pub valid_end: u64,
    /// Bytes after the last valid record that are not preallocated zeros (a
    /// torn tail, if this is the newest segment).
    pub torn_bytes: u64,
}

/// Scans one segment, checking every record's checksum.
pub fn scan(fs: &dyn FileSystem, path: &Path, first_lsn: u64, is_last: bool) -> Result<SegmentScan> {
    let bytes = fs.read_all(path).map_err(|error| Error::io("reading", path, &error))?;
    let name = path
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let scanned = scan_segment(&name, &bytes, first_lsn, is_last)?;
    Ok(SegmentScan {
        records: scanned
            .records
            .iter()
            .map(|(record, offset)| RecordSummary {
                lsn: record.lsn,
                kind: record.kind.name(),
                offset: *offset as u64,
                body_bytes: record.stored_body.len() as u64,
            })
            .collect(),
        valid_end: scanned.valid_end as u64,
        torn_bytes: if scanned.torn {
            (bytes.len() - scanned.valid_end) as u64
        } else {
            0
        },
    })
}

/// A checkpoint checked: its stored hash against the hash of the state it
/// loads (with its chain of bases, for an incremental one).
pub struct CheckpointCheck {
    pub lsn: u64,
    /// 0 for a full checkpoint, else the checkpoint it extends.
    pub base_lsn: u64,
    pub pages: u64,
    pub stored: StateHash,
    pub computed: StateHash,
}

pub fn check_checkpoint(fs: &dyn FileSystem, dir: &Path, lsn: u64) -> Result<CheckpointCheck> {
    let header = read_header(fs, &dir.join(checkpoint_name(lsn)))?;
    let state = load_checkpoint(fs, dir, lsn)?;
    Ok(CheckpointCheck {
        lsn,
        base_lsn: header.base_lsn,
        pages: state.live_page_count() as u64,
        stored: StateHash(header.state_hash),
        computed: state.state_hash(),
    })
}

/// A retained checkpoint's stored hash beside the hash of the replayed log at its LSN.
pub struct HistoryCheck {
    pub lsn: u64,
    pub stored: StateHash,
    pub replayed: StateHash,
}

/// Replays the log from the base below each retained checkpoint up to it and
/// compares the replayed hash with the checkpoint's stored one; then replays
/// to the end. Returns the checks and the final state with its LSN.
pub fn check_history(fs: &dyn FileSystem, dir: &Path) -> Result<(Vec<HistoryCheck>, State, u64)> {
    let listing = list(fs, dir)?;
    let segments: Vec<u64> = listing.segments.iter().map(|file| file.number).collect();
    let checkpoints: Vec<u64> = listing.checkpoints.iter().map(|file| file.number).collect();
    let log_dir = dir.join("log");
    let checkpoint_dir = dir.join("checkpoints");
    let starts_at_one = segments.first().is_none_or(|&first| first == 1);
    let mut results = Vec::new();
    for (index, &lsn) in checkpoints.iter().enumerate() {
        let earlier = &checkpoints[..index];
        if earlier.is_empty() && !starts_at_one {
            continue;
        }
        let (base, base_lsn) = load_base(fs, &checkpoint_dir, earlier, lsn, starts_at_one)?;
        let replayed = replay(fs, &log_dir, &segments, base, base_lsn, Some(lsn), false)?;
        let stored = StateHash(read_header(fs, &checkpoint_dir.join(checkpoint_name(lsn)))?.state_hash);
        results.push(HistoryCheck {
            lsn,
            stored,
            replayed: replayed.state.state_hash(),
        });
    }
    let (base, base_lsn) = load_base(fs, &checkpoint_dir, &checkpoints, u64::MAX, starts_at_one)?;
    let replayed = replay(fs, &log_dir, &segments, base, base_lsn, None, false)?;
    Ok((results, replayed.state, replayed.last_lsn))
}

/// What `repair` did.
pub struct RepairReport {
    /// Where the damaged bytes were moved, if any.
    pub salvage_dir: Option<PathBuf>,
    /// The segment and offset the log now ends at, when it was cut.
    pub cut_at: Option<(String, u64)>,
    pub segments_moved: usize,
}

/// Salvages a log that refuses to open with `LOG_CORRUPT`: the log is cut at
/// the first damaged record; the damaged segment (whole, as it was) and
/// every later one are moved into `<dir>/salvage-<first damaged LSN>/`, so no
/// byte is destroyed. A log that scans clean is left untouched. It takes the
/// directory's lock, so it never runs under an open bus.
pub fn repair(fs: &dyn FileSystem, dir: &Path) -> Result<RepairReport> {
    let _lock = crate::store::lock_directory(dir)?;
    let listing = list(fs, dir)?;
    let mut expected = listing.segments.first().map_or(1, |file| file.number);
    for (index, file) in listing.segments.iter().enumerate() {
        let is_last = index + 1 == listing.segments.len();
        let damaged = match scan(fs, &file.path, expected, is_last) {
            Ok(scanned) if file.number == expected => {
                expected += scanned.records.len() as u64;
                continue;
            }
            Ok(_) => None,
            Err(error) if error.code == ErrorCode::LogCorrupt => Some(error),
            Err(error) => return Err(error),
        };
        let bytes = fs
            .read_all(&file.path)
            .map_err(|error| Error::io("reading", &file.path, &error))?;
        let name = segment_name(file.number);
        let keep = match damaged {
            Some(_) => valid_prefix(&name, &bytes, file.number),
            None => 0,
        };
        let salvage_dir = dir.join(format!("salvage-{expected}"));
        fs.create_dir_all(&salvage_dir)
            .map_err(|error| Error::io("creating", &salvage_dir, &error))?;
        let copy = salvage_dir.join(&name);
        let target = fs
            .open_append(&copy)
            .map_err(|error| Error::io("creating", &copy, &error))?;
        target
            .append(&[&bytes])
            .and_then(|()| target.sync())
            .map_err(|error| Error::io("writing", &copy, &error))?;
        if keep > 0 {
            fs.truncate(&file.path, keep)
                .map_err(|error| Error::io("truncating", &file.path, &error))?;
        } else {
            fs.remove(&file.path)
                .map_err(|error| Error::io("removing", &file.path, &error))?;
        }
        let mut moved = 1;
        for later in &listing.segments[index + 1..] {
            let destination = salvage_dir.join(later.path.file_name().expect("segment files have names"));
            fs.rename(&later.path, &destination)
                .map_err(|error| Error::io("moving", &later.path, &error))?;
            moved += 1;
        }
        fs.sync_dir(&dir.join("log"))
            .map_err(|error| Error::io("syncing", dir, &error))?;
        return Ok(RepairReport {
            salvage_dir: Some(salvage_dir),
            cut_at: Some((name, keep)),
            segments_moved: moved,
        });
    }
    Ok(RepairReport {
        salvage_dir: None,
        cut_at: None,
        segments_moved: 0,
    })
}

/// The length of the longest prefix of a segment that scans clean as the last segment.
fn valid_prefix(name: &str, bytes: &[u8], first_lsn: u64) -> u64 {
    let mut end = crate::log::segment::SEGMENT_HEADER_BYTES;
    let mut lsn = first_lsn;
    while let crate::log::record::Frame::Valid(record, next) = crate::log::record::read_frame(bytes, end) {
        if record.lsn != lsn {
            break;
        }
        lsn += 1;
        end = next;
    }
    if bytes.len() < end || scan_segment(name, &bytes[..end], first_lsn, true).is_err() {
        return 0;
    }
    end as u64
}
