//! What must hold after a simulated crash, whatever the faults were:
//! - recovery opens at an LSN the store reached, with the state it had there;
//! - it never opens before the highest acknowledged LSN, unless synced bytes
//!   were damaged (corruption), and then only with the cut reported (a torn
//!   tail kept in a salvage file);
//! - it refuses only for corruption, with a typed error that names the file
//!   (and, for the log, the offset); `repair` then leaves a directory that
//!   opens at a state the store had, or refuses, changing nothing.

use std::path::Path;

use mmsb_core::inspect::repair;
use mmsb_core::recovery::RecoveryMode;
use mmsb_core::{Error, ErrorCode, Store, StoreOptions};

use super::disk::SimulatedDisk;
use super::workload::History;

/// How recovery came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Opened with every acknowledged write.
    Intact,
    /// Opened before the acknowledged LSN with the cut reported (corruption only).
    Salvaged,
    /// Refused with a typed error (corruption only).
    Refused,
    /// Opened with the change the power went out under, whose state the
    /// workload never saw: the run can check nothing after it.
    InDoubt,
}

/// Checks a store that opened; returns how it came out.
pub fn recovered(store: &Store, history: &History, corrupted: bool) -> Result<Outcome, String> {
    let last = store.last_lsn();
    if history.in_doubt == Some(last) && !history.hashes.contains_key(&last) {
        return Ok(Outcome::InDoubt);
    }
    let Some(expected) = history.hashes.get(&last) else {
        return Err(format!(
            "recovered to LSN {last}, which the store never reached (it reached {})",
            history.last_lsn()
        ));
    };
    if store.state_hash() != *expected {
        return Err(format!(
            "recovered to LSN {last} with a state the store never had there"
        ));
    }
    let torn = store.recovery_report().and_then(|report| report.torn_tail.clone());
    if let Some(torn) = &torn {
        if torn.bytes == 0 || !torn.salvage_file.to_string_lossy().contains(&torn.segment) {
            return Err(format!("a torn tail reported without its bytes kept: {torn:?}"));
        }
    }
    if last >= history.acknowledged_lsn {
        return Ok(Outcome::Intact);
    }
    let lost = format!(
        "writes acknowledged up to LSN {} lost: recovered to LSN {last}",
        history.acknowledged_lsn
    );
    match (corrupted, torn) {
        (false, _) => Err(format!("{lost} after faults that damaged no synced byte")),
        (true, None) => Err(format!("{lost} with nothing reported")),
        (true, Some(_)) => Ok(Outcome::Salvaged),
    }
}

/// Checks a refusal to open: allowed only for corruption, typed, naming the
/// file and, for the log, the offset.
pub fn refused(error: &Error, corrupted: bool) -> Result<(), String> {
    if !corrupted {
        return Err(format!(
            "refused to open after faults that damaged no synced byte: {error}"
        ));
    }
    if !matches!(error.code, ErrorCode::LogCorrupt | ErrorCode::CheckpointCorrupt) {
        return Err(format!("refused with an untyped error: {error}"));
    }
    if !(error.message.contains(".log") || error.message.contains(".ckpt")) {
        return Err(format!("refused without naming the file: {error}"));
    }
    if error.code == ErrorCode::LogCorrupt && !error.message.contains("offset") {
        return Err(format!("refused without naming the offset: {error}"));
    }
    Ok(())
}

/// After a refusal: `repair` mends the directory to a state the store had,
/// or refuses saying nothing was changed.
pub fn repaired(disk: &SimulatedDisk, root: &Path, history: &History, options: &StoreOptions) -> Result<(), String> {
    // Repair runs on a healthy disk with room for what it keeps aside: one that
    // still misplaced or flipped writes would damage the checkpoint repair writes.
    let mut faults = disk.faults();
    faults.capacity_bytes = u64::MAX;
    faults.crash_at = None;
    faults.error_at = None;
    faults.misdirect_percent = 0;
    faults.flip_written_percent = 0;
    faults.flip_synced_percent = 0;
    disk.set_faults(faults);
    match repair(disk, root) {
        Ok(report) => {
            let strict = StoreOptions {
                recovery_mode: RecoveryMode::Strict,
                ..options.clone()
            };
            let store = Store::open(std::sync::Arc::new(disk.clone()), root, strict)
                .map_err(|error| format!("does not open after repair: {error}"))?;
            if store.last_lsn() != report.last_lsn {
                return Err(format!(
                    "repair said LSN {}, the store opened at {}",
                    report.last_lsn,
                    store.last_lsn()
                ));
            }
            match history.hashes.get(&report.last_lsn) {
                Some(hash) if *hash == store.state_hash() => Ok(()),
                _ => Err(format!(
                    "repair left a state the store never had at LSN {}",
                    report.last_lsn
                )),
            }
        }
        Err(error) if error.message.contains("nothing was changed") => Ok(()),
        Err(error) => Err(format!("repair failed without saying why: {error}")),
    }
}
