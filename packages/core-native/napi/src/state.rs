//! `NativeState`: one state owned by a JS `Bus` — opening, closing, LSNs,
//! recovery, checkpoints, time travel and the state hash.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use mmsb_core::counters::Counters;
use mmsb_core::names;
use mmsb_core::recovery::RecoveryMode;
use mmsb_core::storage::OsFileSystem;
use mmsb_core::{ErrorCode, PageId, Store, StoreOptions};
use napi::bindgen_prelude::Uint8ArraySlice;
use napi::Env;
use napi_derive::napi;

use crate::convert::{fail, invalid, option_u64, to_u64, Result};
use crate::exported;

/// Options of `NativeState.open`; absent fields take the core's defaults.
#[napi(object)]
pub struct OpenOptions {
    pub segment_bytes: Option<f64>,
    pub checkpoints_retained: Option<f64>,
    pub checkpoint_every_bytes: Option<f64>,
    pub compress_bytes_min: Option<f64>,
    /// `salvage-tail` (default) or `strict`: what opening does with a torn tail.
    pub recovery_mode: Option<String>,
}

/// What recovery did on open.
#[napi(object)]
pub struct RecoveryInfo {
    pub checkpoint_lsn: f64,
    pub records_replayed: f64,
    pub torn_bytes_truncated: f64,
    pub torn_tail: Option<TornTailInfo>,
}

/// A torn tail recovery cut, and the salvage file that keeps its bytes.
#[napi(object)]
pub struct TornTailInfo {
    pub segment: String,
    pub offset: f64,
    pub bytes: f64,
    pub salvage_file: String,
}

/// A written checkpoint.
#[napi(object)]
pub struct CheckpointResult {
    pub lsn: f64,
    /// 0 for a full checkpoint, else the checkpoint this incremental one extends.
    pub base_lsn: f64,
    pub path: String,
    pub bytes: f64,
    pub pages: f64,
    pub state_hash: String,
}

/// One state, owned by a JS `Bus`: in memory, on a data directory, or a
/// detached copy from time travel.
#[napi]
pub struct NativeState {
    pub(crate) store: Store,
    /// Pages that have a zero-copy view. V8 refuses two external buffers over
    /// one pointer, so each page exports at most one view (the bus caches it).
    pub(crate) viewed_pages: HashSet<PageId>,
    /// Whether the counters' buffer was handed out (V8 takes one external buffer per pointer).
    counters_exported: bool,
}

impl NativeState {
    pub(crate) fn wrap(store: Store) -> NativeState {
        NativeState {
            store,
            viewed_pages: HashSet::new(),
            counters_exported: false,
        }
    }
}

impl Default for NativeState {
    fn default() -> NativeState {
        NativeState::new()
    }
}

#[napi]
impl NativeState {
    /// An in-memory state.
    #[napi(constructor)]
    pub fn new() -> NativeState {
        NativeState::wrap(Store::memory())
    }

    /// Opens (creating when missing) a data directory and recovers its state.
    #[napi(factory)]
    pub fn open(directory: String, options: OpenOptions) -> Result<NativeState> {
        let defaults = StoreOptions::default();
        let options = StoreOptions {
            segment_bytes_max: option_u64(options.segment_bytes, "segmentBytes", defaults.segment_bytes_max)?,
            checkpoints_retained: option_u64(
                options.checkpoints_retained,
                "checkpointsRetained",
                defaults.checkpoints_retained as u64,
            )? as usize,
            checkpoint_every_bytes: option_u64(
                options.checkpoint_every_bytes,
                "checkpointEveryBytes",
                defaults.checkpoint_every_bytes,
            )?,
            compress_bytes_min: options
                .compress_bytes_min
                .map(|bytes| to_u64(bytes, "compressRecordsAbove"))
                .transpose()?,
            recovery_mode: match options.recovery_mode.as_deref() {
                None => defaults.recovery_mode,
                Some(name) => names::parse::<RecoveryMode>(name, ErrorCode::InvalidArgument).map_err(fail)?,
            },
        };
        let store = Store::open(Arc::new(OsFileSystem), Path::new(&directory), options).map_err(fail)?;
        Ok(NativeState::wrap(store))
    }

    /// Releases the data directory (its lock and files); the state becomes empty.
    #[napi]
    pub fn close(&mut self) {
        self.store = Store::memory();
        self.viewed_pages.clear();
    }

    #[napi]
    pub fn last_lsn(&self) -> f64 {
        self.store.last_lsn() as f64
    }

    #[napi]
    pub fn durable_lsn(&self) -> f64 {
        self.store.durable_lsn() as f64
    }

    #[napi]
    pub fn oldest_lsn(&self) -> f64 {
        self.store.oldest_lsn() as f64
    }

    #[napi]
    pub fn is_durable(&self) -> bool {
        self.store.is_durable()
    }

    #[napi]
    pub fn recovery(&self) -> Option<RecoveryInfo> {
        self.store.recovery_report().map(|report| RecoveryInfo {
            checkpoint_lsn: report.checkpoint_lsn as f64,
            records_replayed: report.records_replayed as f64,
            torn_bytes_truncated: report.torn_bytes_truncated as f64,
            torn_tail: report.torn_tail.as_ref().map(|torn| TornTailInfo {
                segment: torn.segment.clone(),
                offset: torn.offset as f64,
                bytes: torn.bytes as f64,
                salvage_file: torn.salvage_file.display().to_string(),
            }),
        })
    }

    /// True once the log failed (a failed sync, or an append that could not
    /// be undone): it takes no more writes until reopened.
    #[napi]
    pub fn log_failed(&self) -> bool {
        self.store.log_failure().is_some()
    }

    #[napi]
    pub fn checkpoint_due(&self) -> bool {
        self.store.checkpoint_due()
    }

    /// Writes a checkpoint: incremental when that pays, full when `full`.
    #[napi]
    pub fn checkpoint(&mut self, full: bool) -> Result<CheckpointResult> {
        let info = self.store.checkpoint(full).map_err(fail)?;
        Ok(CheckpointResult {
            lsn: info.lsn as f64,
            base_lsn: info.base_lsn as f64,
            path: info.path.display().to_string(),
            bytes: info.bytes as f64,
            pages: info.pages as f64,
            state_hash: info.state_hash.to_hex(),
        })
    }

    /// A detached, in-memory copy of the state after record `lsn`.
    #[napi]
    pub fn state_at(&self, lsn: f64) -> Result<NativeState> {
        let lsn = to_u64(lsn, "lsn")?;
        let state = self.store.state_at(lsn).map_err(fail)?;
        Ok(NativeState::wrap(Store::detached(state, lsn)))
    }

    #[napi]
    pub fn state_hash(&self) -> String {
        self.store.state_hash().to_hex()
    }

    #[napi]
    pub fn next_page_id(&self) -> f64 {
        self.store.next_page_id() as f64
    }

    #[napi]
    pub fn live_page_count(&self) -> f64 {
        self.store.live_page_count() as f64
    }

    /// Turns the latency histograms' clock reads on or off (counts stay).
    #[napi]
    pub fn set_timings(&self, timed: bool) {
        self.store.counters().set_timed(timed);
    }

    /// The store's counters as one buffer of little-endian `f64`s over the
    /// core's own cells (mmsb-core counters.rs, names in `counterNames()`):
    /// the bus reads a mutation's LSN and every statistic from it without a
    /// call. Handed out once per state; it stays readable after `close`.
    #[napi]
    pub fn counters<'env>(&mut self, env: &'env Env) -> Result<Uint8ArraySlice<'env>> {
        if std::mem::replace(&mut self.counters_exported, true) {
            return Err(invalid(
                "the counters were handed out already; the bus keeps them".to_owned(),
            ));
        }
        let counters = self.store.counters().clone();
        let pointer = counters.as_ptr();
        // Safety: the clone keeps the cells alive until the finalizer drops it;
        // JavaScript only reads them, and each cell is written whole.
        unsafe { exported::external(env, pointer, Counters::BYTES, counters) }
    }
}
