//! Inspection of a closed data directory for the `mmsb` tools: listing,
//! scanning, checking checkpoints and history, repair.

use std::path::Path;

use mmsb_core::inspect;
use mmsb_core::storage::OsFileSystem;
use napi_derive::napi;

use crate::convert::{fail, to_u64, Result};
use crate::state::TornTailInfo;

/// A segment or checkpoint file of a data directory.
#[napi(object)]
pub struct DirectoryFile {
    pub name: String,
    pub path: String,
    /// The first LSN of a segment, or the LSN of a checkpoint.
    pub lsn: f64,
    pub bytes: f64,
}

#[napi(object)]
pub struct DirectoryListing {
    pub segments: Vec<DirectoryFile>,
    pub checkpoints: Vec<DirectoryFile>,
}

fn directory_files(files: Vec<inspect::NumberedFile>) -> Vec<DirectoryFile> {
    files
        .into_iter()
        .map(|file| DirectoryFile {
            name: file
                .path
                .file_name()
                .map_or_else(String::new, |name| name.to_string_lossy().into_owned()),
            path: file.path.display().to_string(),
            lsn: file.number as f64,
            bytes: file.bytes as f64,
        })
        .collect()
}

/// Lists the segments and checkpoints of a data directory, without opening it.
#[napi]
pub fn inspect_directory(directory: String) -> Result<DirectoryListing> {
    let listing = inspect::list(&OsFileSystem, Path::new(&directory)).map_err(fail)?;
    Ok(DirectoryListing {
        segments: directory_files(listing.segments),
        checkpoints: directory_files(listing.checkpoints),
    })
}

#[napi(object)]
pub struct RecordInfo {
    pub lsn: f64,
    pub kind: String,
    pub offset: f64,
    pub body_bytes: f64,
}

#[napi(object)]
pub struct SegmentInfo {
    pub records: Vec<RecordInfo>,
    pub valid_end: f64,
    pub torn_bytes: f64,
}

/// Scans one segment, checking every record's checksum and LSN.
#[napi]
pub fn scan_segment(path: String, first_lsn: f64, is_last: bool) -> Result<SegmentInfo> {
    let first_lsn = to_u64(first_lsn, "firstLsn")?;
    let scanned = inspect::scan(&OsFileSystem, Path::new(&path), first_lsn, is_last).map_err(fail)?;
    Ok(SegmentInfo {
        records: scanned
            .records
            .into_iter()
            .map(|record| RecordInfo {
                lsn: record.lsn as f64,
                kind: record.kind.to_owned(),
                offset: record.offset as f64,
                body_bytes: record.body_bytes as f64,
            })
            .collect(),
        valid_end: scanned.valid_end as f64,
        torn_bytes: scanned.torn_bytes as f64,
    })
}

#[napi(object)]
pub struct CheckpointCheckInfo {
    pub lsn: f64,
    pub base_lsn: f64,
    pub pages: f64,
    pub stored_hash: String,
    pub computed_hash: String,
}

/// Loads a checkpoint (every checksum, with its bases) and recomputes its state hash.
#[napi]
pub fn check_checkpoint(directory: String, lsn: f64) -> Result<CheckpointCheckInfo> {
    let checkpoint_dir = Path::new(&directory).join("checkpoints");
    let check = inspect::check_checkpoint(&OsFileSystem, &checkpoint_dir, to_u64(lsn, "lsn")?).map_err(fail)?;
    Ok(CheckpointCheckInfo {
        lsn: check.lsn as f64,
        base_lsn: check.base_lsn as f64,
        pages: check.pages as f64,
        stored_hash: check.stored.to_hex(),
        computed_hash: check.computed.to_hex(),
    })
}

#[napi(object)]
pub struct HistoryCheckpoint {
    pub lsn: f64,
    pub stored_hash: String,
    pub replayed_hash: String,
}

#[napi(object)]
pub struct HistoryInfo {
    pub checkpoints: Vec<HistoryCheckpoint>,
    pub last_lsn: f64,
    pub state_hash: String,
    pub live_pages: f64,
    /// The torn tail the next open cuts (strict recovery refuses it).
    pub torn_tail: Option<TornTailInfo>,
    /// Files kept aside by recovery and repair.
    pub salvage_files: Vec<String>,
    /// Damage to history that opening does not need (a missing or unusable checkpoint).
    pub problems: Vec<String>,
}

/// Replays the retained history and compares it with every checkpoint's stored hash.
#[napi]
pub fn check_history(directory: String) -> Result<HistoryInfo> {
    let history = inspect::check_history(&OsFileSystem, Path::new(&directory)).map_err(fail)?;
    Ok(HistoryInfo {
        checkpoints: history
            .checks
            .into_iter()
            .map(|check| HistoryCheckpoint {
                lsn: check.lsn as f64,
                stored_hash: check.stored.to_hex(),
                replayed_hash: check.replayed.to_hex(),
            })
            .collect(),
        last_lsn: history.last_lsn as f64,
        state_hash: history.state.state_hash().to_hex(),
        live_pages: history.state.live_page_count() as f64,
        torn_tail: history.torn_tail.map(|(segment, offset, bytes)| TornTailInfo {
            salvage_file: String::new(),
            segment,
            offset: offset as f64,
            bytes: bytes as f64,
        }),
        salvage_files: history
            .salvage_files
            .iter()
            .map(|path| path.display().to_string())
            .collect(),
        problems: history.problems,
    })
}

#[napi(object)]
pub struct RepairInfo {
    /// Where what was cut or moved is kept; absent when nothing was kept aside.
    pub salvage_directory: Option<String>,
    pub kept_aside: Vec<String>,
    pub cut_segment: Option<String>,
    pub cut_offset: Option<f64>,
    /// The LSN the directory now opens at.
    pub last_lsn: f64,
    /// The LSN of a full checkpoint written to stand in for a lost one.
    pub checkpoint_written: Option<f64>,
}

/// Brings a damaged directory back to its longest consistent history,
/// keeping everything it cuts aside; refuses, changing nothing, when it cannot.
#[napi]
pub fn repair_directory(directory: String) -> Result<RepairInfo> {
    let report = inspect::repair(&OsFileSystem, Path::new(&directory)).map_err(fail)?;
    Ok(RepairInfo {
        salvage_directory: report.salvage_dir.map(|dir| dir.display().to_string()),
        kept_aside: report.kept_aside,
        cut_segment: report.cut_at.as_ref().map(|(name, _)| name.clone()),
        cut_offset: report.cut_at.map(|(_, offset)| offset as f64),
        last_lsn: report.last_lsn as f64,
        checkpoint_written: report.checkpoint_written.map(|lsn| lsn as f64),
    })
}
