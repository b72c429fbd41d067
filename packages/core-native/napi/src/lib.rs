//! The napi binding of mmsb-core: declares the functions @mmsb/bus calls and
//! converts types, nothing more. Every core error crosses as a JS `Error`
//! whose `code` is the core's stable code string.
//!
//! Numbers cross as f64 and are checked to be exact non-negative integers
//! (≤ 2^53) here, because napi's own integer conversion truncates silently.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use mmsb_core::delta::encoding::decode_batch;
use mmsb_core::delta::merge;
use mmsb_core::graph::{Edge, EdgeKind};
use mmsb_core::inspect;
use mmsb_core::log::writer::SyncJob;
use mmsb_core::propagation::{self, Transform};
use mmsb_core::recovery::RecoveryMode;
use mmsb_core::storage::OsFileSystem;
use mmsb_core::{Delta, ErrorCode, Location, PageId, Payload, Source, Store, StoreOptions};
use napi::bindgen_prelude::{AsyncTask, Float64Array, Uint8Array, Uint8ArraySlice};
use napi::{Env, Task};
use napi_derive::napi;

/// A core error code as napi's error status, which becomes the JS `code`.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

type Result<T> = std::result::Result<T, napi::Error<Code>>;

fn fail(error: mmsb_core::Error) -> napi::Error<Code> {
    napi::Error::new(Code(error.code.as_str()), error.message)
}

fn invalid(message: String) -> napi::Error<Code> {
    napi::Error::new(Code(ErrorCode::InvalidArgument.as_str()), message)
}

fn napi_failure(error: napi::Error) -> napi::Error<Code> {
    invalid(error.reason)
}

/// The largest integer a JS number holds exactly.
const SAFE_INTEGER_MAX: f64 = 9_007_199_254_740_991.0;

fn to_u64(value: f64, what: &str) -> Result<u64> {
    if value.fract() != 0.0 || !(0.0..=SAFE_INTEGER_MAX).contains(&value) {
        return Err(invalid(format!(
            "{what} must be a non-negative safe integer, got {value}"
        )));
    }
    Ok(value as u64)
}

fn to_page_ids(ids: &[f64]) -> Result<Vec<PageId>> {
    ids.iter().map(|&id| to_u64(id, "page id")).collect()
}

fn to_source(value: u32) -> Result<Source> {
    u8::try_from(value)
        .ok()
        .and_then(Source::from_u8)
        .ok_or_else(|| invalid(format!("unknown delta source {value}")))
}

fn to_expect_epoch(value: Option<f64>) -> Result<Option<u64>> {
    value.map(|epoch| to_u64(epoch, "expectEpoch")).transpose()
}

/// The stable error codes of the core, in declaration order.
#[napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|code| code.as_str().to_owned()).collect()
}

/// The result of `merge_payloads`: dense (`mask` absent) or sparse.
#[napi(object)]
pub struct MergedPayload {
    pub kind: String,
    pub mask: Option<Uint8Array>,
    pub bytes: Uint8Array,
}

/// Merges two encoded deltas for a page of `size` bytes into one payload
/// equal in effect to applying the first, then the second.
#[napi]
pub fn merge_payloads(size: f64, encoded: Uint8ArraySlice) -> Result<MergedPayload> {
    let size = to_u64(size, "size")?;
    mmsb_core::page::validate_size(size).map_err(fail)?;
    let deltas = decode_batch(encoded.as_ref()).map_err(fail)?;
    let [first, second] = deltas.as_slice() else {
        return Err(invalid(format!("merge takes two encoded deltas, got {}", deltas.len())));
    };
    match merge(first.page_id, size, &first.payload, &second.payload).map_err(fail)? {
        Payload::Dense(bytes) => Ok(MergedPayload {
            kind: "dense".to_owned(),
            mask: None,
            bytes: bytes.into(),
        }),
        Payload::Sparse { mask, packed } => Ok(MergedPayload {
            kind: "sparse".to_owned(),
            mask: Some(mask.into()),
            bytes: packed.into(),
        }),
        Payload::Ranges(_) => unreachable!("merge yields dense or sparse payloads"),
    }
}

#[napi(object)]
pub struct PageInfo {
    pub size: f64,
    pub epoch: f64,
    pub location: String,
}

#[napi(object)]
pub struct MetadataEntry {
    pub key: String,
    pub value: napi::bindgen_prelude::Buffer,
}

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

/// What a native wave did.
#[napi(object)]
pub struct WaveInfo {
    pub recomputed: f64,
    pub cut_off: f64,
    /// The height of the deepest page the wave visited.
    pub max_height: f64,
    pub changed_count: f64,
    /// The pages the wave changed, in wave order, when asked for.
    pub changed_pages: Option<Vec<f64>>,
}

/// An edge seen from its child.
#[napi(object)]
pub struct ParentEdge {
    pub parent: f64,
    pub kind: String,
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

/// The outcome of a sync: the durable LSN, or the error's code and message
/// (an async task's own errors cannot carry a code).
#[napi(object)]
pub struct SyncOutcome {
    pub durable_lsn: Option<f64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// One sync of the log, taken from a `NativeState`.
#[napi]
pub struct NativeSyncJob {
    job: Option<SyncJob>,
    memory_lsn: u64,
}

#[napi]
impl NativeSyncJob {
    /// Runs the sync on a libuv worker thread; a job runs once.
    #[napi(ts_return_type = "Promise<SyncOutcome>")]
    pub fn run(&mut self) -> AsyncTask<SyncTask> {
        AsyncTask::new(SyncTask {
            job: self.job.take(),
            memory_lsn: self.memory_lsn,
        })
    }
}

/// Syncs the log on a libuv worker thread.
pub struct SyncTask {
    job: Option<SyncJob>,
    memory_lsn: u64,
}

impl Task for SyncTask {
    type Output = std::result::Result<u64, mmsb_core::Error>;
    type JsValue = SyncOutcome;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(self.job.take().map_or(Ok(self.memory_lsn), SyncJob::run))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<SyncOutcome> {
        Ok(match output {
            Ok(lsn) => SyncOutcome {
                durable_lsn: Some(lsn as f64),
                error_code: None,
                error_message: None,
            },
            Err(error) => SyncOutcome {
                durable_lsn: None,
                error_code: Some(error.code.as_str().to_owned()),
                error_message: Some(error.message),
            },
        })
    }
}

fn option_u64(value: Option<f64>, what: &str, default: u64) -> Result<u64> {
    value.map_or(Ok(default), |value| to_u64(value, what))
}

/// One state, owned by a JS `Bus`: in memory, on a data directory, or a
/// detached copy from time travel.
#[napi]
pub struct NativeState {
    store: Store,
    /// Pages that have a zero-copy view. V8 refuses two external buffers over
    /// one pointer, so each page exports at most one view (the bus caches it).
    viewed_pages: HashSet<PageId>,
}

impl NativeState {
    fn wrap(store: Store) -> NativeState {
        NativeState {
            store,
            viewed_pages: HashSet::new(),
        }
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
                Some(name) => RecoveryMode::from_name(name)
                    .ok_or_else(|| invalid(format!("recovery must be \"salvage-tail\" or \"strict\", got {name:?}")))?,
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

    /// A sync of every change so far, to run off the JS thread (group
    /// commit: one sync covers all writers waiting on it). It is an object of
    /// its own because a pending task keeps its receiver borrowed, and the
    /// state must stay writable while the sync runs.
    #[napi]
    pub fn sync_job(&self) -> NativeSyncJob {
        NativeSyncJob {
            job: self.store.sync_job(),
            memory_lsn: self.store.last_lsn(),
        }
    }

    /// Syncs every change so far on this thread; returns the durable LSN.
    #[napi]
    pub fn sync(&self) -> Result<f64> {
        match self.store.sync_job() {
            Some(job) => Ok(job.run().map_err(fail)? as f64),
            None => Ok(self.store.last_lsn() as f64),
        }
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
    pub fn create_page(
        &mut self,
        size: f64,
        location: String,
        metadata_keys: Vec<String>,
        metadata_values: Vec<Uint8ArraySlice>,
    ) -> Result<f64> {
        let size = to_u64(size, "size")?;
        let location = Location::parse(&location).map_err(fail)?;
        if metadata_keys.len() != metadata_values.len() {
            return Err(invalid("metadata keys and values differ in count".to_owned()));
        }
        let metadata: Vec<(&str, &[u8])> = metadata_keys
            .iter()
            .zip(metadata_values.iter())
            .map(|(key, value)| (key.as_str(), value.as_ref()))
            .collect();
        let id = self.store.create_page(size, location, &metadata).map_err(fail)?;
        Ok(id as f64)
    }

    #[napi]
    pub fn create_pages(&mut self, count: f64, size: f64, location: String) -> Result<f64> {
        let count = to_u64(count, "count")?;
        let size = to_u64(size, "size")?;
        let location = Location::parse(&location).map_err(fail)?;
        Ok(self.store.create_pages(count, size, location).map_err(fail)? as f64)
    }

    #[napi]
    pub fn release_page(&mut self, id: f64) -> Result<()> {
        let id = to_u64(id, "page id")?;
        self.store.release_page(id).map_err(fail)?;
        self.viewed_pages.remove(&id);
        Ok(())
    }

    #[napi]
    pub fn page_info(&self, id: f64) -> Result<PageInfo> {
        let page = self.store.page(to_u64(id, "page id")?).map_err(fail)?;
        Ok(PageInfo {
            size: page.size() as f64,
            epoch: page.epoch() as f64,
            location: page.location().as_str().to_owned(),
        })
    }

    #[napi]
    pub fn metadata(&self, id: f64) -> Result<Vec<MetadataEntry>> {
        let page = self.store.page(to_u64(id, "page id")?).map_err(fail)?;
        Ok(page
            .metadata()
            .iter()
            .map(|(key, value)| MetadataEntry {
                key: key.to_owned(),
                value: value.to_vec().into(),
            })
            .collect())
    }

    #[napi]
    pub fn set_metadata(&mut self, id: f64, key: String, value: Option<Uint8ArraySlice>) -> Result<()> {
        let id = to_u64(id, "page id")?;
        self.store
            .set_metadata(id, &key, value.as_ref().map(|value| value.as_ref()))
            .map_err(fail)
    }

    /// Copies `length` bytes of a page from `offset`.
    #[napi]
    pub fn read<'env>(&self, env: &'env Env, id: f64, offset: f64, length: f64) -> Result<Uint8ArraySlice<'env>> {
        let bytes = self
            .store
            .read(
                to_u64(id, "page id")?,
                to_u64(offset, "offset")?,
                to_u64(length, "length")?,
            )
            .map_err(fail)?;
        Uint8ArraySlice::copy_from(env, bytes).map_err(napi_failure)
    }

    /// Copies whole pages, one buffer each, in one crossing.
    #[napi]
    pub fn read_many<'env>(&self, env: &'env Env, ids: Vec<f64>) -> Result<Vec<Uint8ArraySlice<'env>>> {
        let mut pages = Vec::with_capacity(ids.len());
        for id in ids {
            pages.push(self.store.page(to_u64(id, "page id")?).map_err(fail)?.data());
        }
        pages
            .into_iter()
            .map(|bytes| Uint8ArraySlice::copy_from(env, bytes).map_err(napi_failure))
            .collect()
    }

    /// A zero-copy, live view of a page's bytes. It keeps the memory alive
    /// after the page is released; it must be treated as read-only.
    #[napi]
    pub fn view<'env>(&mut self, env: &'env Env, id: f64) -> Result<Uint8ArraySlice<'env>> {
        let id = to_u64(id, "page id")?;
        let bytes = self.store.page(id).map_err(fail)?.shared_bytes().clone();
        if !self.viewed_pages.insert(id) {
            return Err(invalid(format!("page {id} already has a view; the bus caches it")));
        }
        let pointer = bytes.as_ptr();
        let len = bytes.len();
        // Safety: `bytes` keeps the allocation alive until the finalizer
        // drops it, and the core writes it only between JS turns.
        unsafe { Uint8ArraySlice::from_external(env, pointer, len, bytes, |_, bytes| drop(bytes)) }
            .map_err(napi_failure)
    }

    #[napi]
    pub fn apply_dense(
        &mut self,
        id: f64,
        bytes: Uint8ArraySlice,
        expect_epoch: Option<f64>,
        source: u32,
    ) -> Result<f64> {
        let delta = Delta {
            page_id: to_u64(id, "page id")?,
            payload: Payload::Dense(bytes.as_ref()),
            source: to_source(source)?,
            expect_epoch: to_expect_epoch(expect_epoch)?,
        };
        Ok(self.store.apply(&delta).map_err(fail)? as f64)
    }

    #[napi]
    pub fn apply_sparse(
        &mut self,
        id: f64,
        mask: Uint8ArraySlice,
        packed: Uint8ArraySlice,
        expect_epoch: Option<f64>,
        source: u32,
    ) -> Result<f64> {
        let delta = Delta {
            page_id: to_u64(id, "page id")?,
            payload: Payload::Sparse {
                mask: mask.as_ref(),
                packed: packed.as_ref(),
            },
            source: to_source(source)?,
            expect_epoch: to_expect_epoch(expect_epoch)?,
        };
        Ok(self.store.apply(&delta).map_err(fail)? as f64)
    }

    /// Applies one encoded delta and returns the page's new epoch.
    #[napi]
    pub fn apply_encoded_one(&mut self, batch: Uint8ArraySlice) -> Result<f64> {
        let deltas = decode_batch(batch.as_ref()).map_err(fail)?;
        let [delta] = deltas.as_slice() else {
            return Err(invalid(format!("expected one encoded delta, got {}", deltas.len())));
        };
        Ok(self.store.apply(delta).map_err(fail)? as f64)
    }

    /// Applies an encoded batch, all or none; returns how many deltas it held.
    #[napi]
    pub fn apply_batch(&mut self, batch: Uint8ArraySlice) -> Result<u32> {
        Ok(self.store.apply_encoded(batch.as_ref()).map_err(fail)? as u32)
    }

    /// Adds the edge `parent → child` of `kind`; a cycle is refused with GRAPH_CYCLE.
    #[napi]
    pub fn add_edge(&mut self, parent: f64, child: f64, kind: String) -> Result<()> {
        let edge = Edge {
            parent: to_u64(parent, "parent")?,
            child: to_u64(child, "child")?,
            kind: EdgeKind::parse(&kind).map_err(fail)?,
        };
        self.store.add_edge(edge).map_err(fail)
    }

    #[napi]
    pub fn remove_edge(&mut self, parent: f64, child: f64) -> Result<()> {
        self.store
            .remove_edge(to_u64(parent, "parent")?, to_u64(child, "child")?)
            .map_err(fail)
    }

    /// A page's parents, in the order their edges were added.
    #[napi]
    pub fn parents(&self, child: f64) -> Result<Vec<ParentEdge>> {
        let child = to_u64(child, "page id")?;
        self.store.page(child).map_err(fail)?;
        Ok(self
            .store
            .graph()
            .parents(child)
            .iter()
            .map(|&(parent, kind)| ParentEdge {
                parent: parent as f64,
                kind: kind.as_str().to_owned(),
            })
            .collect())
    }

    #[napi]
    pub fn children(&self, parent: f64) -> Result<Vec<f64>> {
        let parent = to_u64(parent, "page id")?;
        self.store.page(parent).map_err(fail)?;
        Ok(self
            .store
            .graph()
            .children(parent)
            .iter()
            .map(|&child| child as f64)
            .collect())
    }

    #[napi]
    pub fn edge_count(&self) -> f64 {
        self.store.graph().edge_count() as f64
    }

    /// Sets a page's built-in recompute (`copy`, `concat`, `xor`), or removes it with `null`.
    #[napi]
    pub fn set_transform(&mut self, child: f64, transform: Option<String>) -> Result<()> {
        let transform = transform
            .map(|name| Transform::parse(&name))
            .transpose()
            .map_err(fail)?;
        self.store
            .set_transform(to_u64(child, "page id")?, transform)
            .map_err(fail)
    }

    /// Runs a wave through the built-in recomputes only and applies it;
    /// `list_pages` asks for the changed pages (a million-page wave need not
    /// build a million-element array nobody reads).
    #[napi]
    pub fn propagate(&mut self, changed: Float64Array, list_pages: bool) -> Result<WaveInfo> {
        let changed = to_page_ids(&changed)?;
        let outcome = self.store.propagate(&changed).map_err(fail)?;
        Ok(WaveInfo {
            recomputed: outcome.recomputed as f64,
            cut_off: outcome.cut_off as f64,
            max_height: f64::from(outcome.max_height),
            changed_count: outcome.outputs.len() as f64,
            changed_pages: list_pages.then(|| outcome.outputs.iter().map(|(page, _)| *page as f64).collect()),
        })
    }

    /// The plan of a wave, packed for one crossing: per descendant in order,
    /// `child, transform (0 none, 1 copy, 2 concat, 3 xor), parent count`, then
    /// per parent `parent id, where`: `where` is the parent's position in this
    /// plan, -2 for a page the commit changed, or -1 for a page the wave does
    /// not change. Positions spare the JavaScript loop any id lookups.
    #[napi]
    pub fn plan_wave(&self, changed: Float64Array) -> Result<Float64Array> {
        let changed = to_page_ids(&changed)?;
        let graph = self.store.graph();
        let order = propagation::plan(graph, &changed);
        let mut position = vec![u32::MAX; graph.id_bound()];
        for (index, &child) in order.iter().enumerate() {
            position[child as usize] = index as u32;
        }
        let roots: std::collections::HashSet<PageId> = changed.iter().copied().collect();
        let mut packed = Vec::new();
        for &child in &order {
            let parents = graph.parents(child);
            let transform = match self.store.transform(child) {
                None => 0.0,
                Some(Transform::Copy) => 1.0,
                Some(Transform::Concat) => 2.0,
                Some(Transform::Xor) => 3.0,
            };
            packed.extend([child as f64, transform, parents.len() as f64]);
            for &(parent, _) in parents {
                let place = match position[parent as usize] {
                    u32::MAX if roots.contains(&parent) => -2.0,
                    u32::MAX => -1.0,
                    index => f64::from(index),
                };
                packed.extend([parent as f64, place]);
            }
        }
        Ok(packed.into())
    }

    /// Computes a page's built-in recompute from the given parent bytes.
    #[napi]
    pub fn compute_transform(&self, child: f64, inputs: Vec<Uint8ArraySlice>) -> Result<Uint8Array> {
        let child = to_u64(child, "page id")?;
        let size = self.store.page(child).map_err(fail)?.size() as usize;
        let Some(transform) = self.store.transform(child) else {
            return Err(invalid(format!("page {child} has no built-in recompute")));
        };
        let inputs: Vec<&[u8]> = inputs.iter().map(|input| input.as_ref()).collect();
        let mut output = vec![0u8; size];
        transform.compute(child, &inputs, &mut output).map_err(fail)?;
        Ok(output.into())
    }

    #[napi]
    pub fn height(&self, page: f64) -> Result<f64> {
        let page = to_u64(page, "page id")?;
        self.store.page(page).map_err(fail)?;
        Ok(f64::from(self.store.graph().height(page)))
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
}

impl Default for NativeState {
    fn default() -> NativeState {
        NativeState::new()
    }
}

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
    /// Where what was cut or moved is kept; absent when nothing was changed.
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
