//! The journal: the LSN counter, the log and checkpoints of a data
//! directory (when there is one), and the counters every change updates.
//!
//! Every change goes through `Journal::log` once its state machine has
//! validated it (write-ahead): in memory it only counts the LSN.

use std::borrow::Cow;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::retention::ChangesSince;
use super::{RecoveryReport, StoreOptions};
use crate::counters::{Counter, Counters};
use crate::delta::{Delta, Payload};
use crate::error::Result;
use crate::log::record::RecordKind;
use crate::log::writer::LogWriter;
use crate::storage::FileSystem;

/// The LSNs, the log (for a data directory) and the counters of a store.
pub(super) struct Journal {
    /// The LSN of the last change (0 before any).
    pub(super) last_lsn: u64,
    pub(super) durable: Option<Durable>,
    /// The statistics, and what a binding reads after each change (counters.rs).
    pub(super) counters: Counters,
    /// Apply calls so far: one in `APPLY_TIMING_PERIOD` is timed.
    pub(super) apply_calls: u64,
}

/// One apply call in this many is timed for the apply histogram, the first
/// included. Two clock reads and an observation cost about a tenth of a
/// small apply (measured: tools/bench/core.bench.js); one call in 16 costs
/// well under 1 %, and 16 samples of a busy second still give its latency.
pub const APPLY_TIMING_PERIOD: u64 = 16;

/// What a store on a data directory holds besides its state.
pub(super) struct Durable {
    pub(super) fs: Arc<dyn FileSystem>,
    pub(super) log_dir: PathBuf,
    pub(super) checkpoint_dir: PathBuf,
    pub(super) writer: LogWriter,
    /// First LSNs of the segments on disk, ascending.
    pub(super) segments: Vec<u64>,
    /// Checkpoints on disk, ascending: (LSN, base LSN; 0 for a full one).
    pub(super) checkpoints: Vec<(u64, u64)>,
    /// What changed since the newest checkpoint, for an incremental one;
    /// `None` (after open) makes the next checkpoint full.
    pub(super) since: Option<ChangesSince>,
    pub(super) options: StoreOptions,
    pub(super) bytes_since_checkpoint: u64,
    /// Log bytes written since the newest full checkpoint: retention keeps
    /// the log back to the full checkpoint before it, so this bounds it.
    pub(super) bytes_since_full: u64,
    pub(super) recovery: RecoveryReport,
    /// Holds the directory's lock until the store is dropped.
    pub(super) _lock: File,
}

impl Journal {
    /// Appends a record for a validated change (durable store), or just counts
    /// its LSN (in memory). `body` is only built when there is a log.
    pub(super) fn log<'a>(&mut self, kind: RecordKind, body: impl FnOnce() -> Cow<'a, [u8]>) -> Result<()> {
        match self.durable.as_mut() {
            Some(durable) => {
                let body = body();
                let compressed = durable
                    .options
                    .compress_bytes_min
                    .filter(|&min| body.len() as u64 >= min)
                    .and_then(|_| zstd::bulk::compress(&body, 1).ok())
                    .filter(|stored| stored.len() <= body.len() - body.len() / 8);
                let stored: &[u8] = compressed.as_deref().unwrap_or(&body);
                self.last_lsn = durable.writer.append(kind, compressed.is_some(), &[stored])?;
                durable.note_new_segment();
                self.counters.set(Counter::LogSegments, durable.segments.len() as f64);
                durable.bytes_since_checkpoint += stored.len() as u64;
                durable.bytes_since_full += stored.len() as u64;
                let due = durable.bytes_since_checkpoint >= durable.options.checkpoint_every_bytes;
                self.counters.set(Counter::CheckpointDue, f64::from(u8::from(due)));
            }
            None => self.last_lsn += 1,
        }
        self.counters.set(Counter::Lsn, self.last_lsn as f64);
        Ok(())
    }

    /// The start of an apply call when this one is sampled and timings are on.
    pub(super) fn apply_timer(&mut self) -> Option<Instant> {
        self.apply_calls += 1;
        if self.apply_calls % APPLY_TIMING_PERIOD == 1 {
            self.counters.start()
        } else {
            None
        }
    }

    /// Counts applied deltas by payload form.
    pub(super) fn count_forms<B>(&self, deltas: &[Delta<B>]) {
        let (mut dense, mut sparse, mut ranges) = (0u32, 0u32, 0u32);
        for delta in deltas {
            match delta.payload {
                Payload::Dense(_) => dense += 1,
                Payload::Sparse { .. } => sparse += 1,
                Payload::Ranges(_) => ranges += 1,
            }
        }
        for (counter, count) in [
            (Counter::DeltasDense, dense),
            (Counter::DeltasSparse, sparse),
            (Counter::DeltasRanges, ranges),
        ] {
            if count > 0 {
                self.counters.add(counter, f64::from(count));
            }
        }
    }

    /// Records a successful change for the next incremental checkpoint.
    pub(super) fn note(&mut self, record: impl FnOnce(&mut Durable)) {
        if let Some(durable) = self.durable.as_mut() {
            record(durable);
        }
    }
}
