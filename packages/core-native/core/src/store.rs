//! The store: a state plus, for a data directory, its log and checkpoints.
//!
//! Every mutation is validated by the state, then appended to the log, then
//! applied (write-ahead). The store assigns LSNs (in memory too, so LSNs mean
//! the same with or without a directory). Durability of an appended record is
//! a separate step, `sync_job`, so that concurrent writers share one sync.
//!
//! Layout of a data directory:
//!
//! ```text
//! <dir>/LOCK                         held (flock) while a store has it open
//! <dir>/log/<first lsn>.log          segments (log/segment.rs)
//! <dir>/checkpoints/<lsn>.ckpt       checkpoints (checkpoint.rs)
//! <dir>/pages/<page id>.page         files of mapped pages (page_memory/mapped.rs),
//!                                    no durable state: leftovers are removed on open
//! ```

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::checkpoint::{
    checkpoint_name, parse_checkpoint_name, read_header, write_checkpoint, CheckpointInfo, Increment,
};
use crate::counters::{Counter, Counters};
use crate::delta::encoding::{decode_batch, encode_for_log, has_runs_worth_coding};
use crate::delta::{Delta, Payload};
use crate::error::{fail, Error, Result};
use crate::graph::Edge;
use crate::log::body;
use crate::log::record::RecordKind;
use crate::log::segment::{parse_segment_name, segment_name, FILL_V2, SEGMENT_HEADER_BYTES};
use crate::log::writer::{LogWriter, SyncJob};
use crate::page::{Location, PageId};
use crate::page_memory::{remove_leftovers, MemoryConfig, MemoryKind, ViewBytes};
use crate::propagation::{propagated, Outputs, Propagation, Recompute, WaveStep, WaveSummary};
use crate::recovery::{
    cut_torn_tail, load_base, recover, replay, DirectoryFiles, RecoveryMode, SegmentReads, TornTail,
};
use crate::state::{nothing, State};
use crate::storage::FileSystem;

#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// A segment is sealed and a new one started past this many bytes.
    pub segment_bytes_max: u64,
    /// How many checkpoints to keep; the oldest bounds time travel.
    pub checkpoints_retained: usize,
    /// Log bytes after which `checkpoint_due` says a checkpoint is due.
    pub checkpoint_every_bytes: u64,
    /// Record bodies of at least this many bytes are stored zstd-compressed
    /// (level 1) when that saves an eighth or more; `None` stores all as they are.
    pub compress_bytes_min: Option<u64>,
    /// What opening does with a torn tail (recovery.rs).
    pub recovery_mode: RecoveryMode,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            segment_bytes_max: 64 << 20,
            checkpoints_retained: 2,
            checkpoint_every_bytes: 256 << 20,
            compress_bytes_min: None,
            recovery_mode: RecoveryMode::SalvageTail,
        }
    }
}

/// A wave's outputs up to this many apply as one batch of deltas; more apply
/// one by one after one check, without a vector of deltas (72 bytes each) to
/// build, scan and drop: a million-page wave would fault in, write and read
/// 72 MB for it several times.
const BATCHED_OUTPUTS_MAX: usize = 4096;

/// Incremental checkpoints on top of one full checkpoint before the next is full.
const INCREMENTAL_CHAIN_MAX: usize = 8;

/// The changes since the newest checkpoint.
struct ChangesSince {
    base_lsn: u64,
    /// Pages at or above this id were created since the base.
    base_next_page_id: PageId,
    /// Incremental checkpoints between the base's full checkpoint and the base.
    chain_length: usize,
    /// Pages below `base_next_page_id` changed since the base.
    changed: HashSet<PageId>,
    /// Pages below `base_next_page_id` released since the base.
    released: Vec<PageId>,
}

/// What recovery did when the store was opened.
#[derive(Clone, Debug, Default)]
pub struct RecoveryReport {
    pub checkpoint_lsn: u64,
    pub records_replayed: u64,
    pub torn_bytes_truncated: u64,
    /// The torn tail cut (and kept in a salvage file), if there was one.
    pub torn_tail: Option<TornTail>,
}

pub struct Store {
    state: State,
    last_lsn: u64,
    /// The statistics, and what a binding reads after each change (counters.rs).
    counters: Counters,
    durable: Option<Durable>,
    /// The propagation engine: recomputes of children, registered at run
    /// time and not persisted (derived deltas are logged), plans and counters.
    propagation: Propagation,
}

struct Durable {
    fs: Arc<dyn FileSystem>,
    log_dir: PathBuf,
    checkpoint_dir: PathBuf,
    writer: LogWriter,
    /// First LSNs of the segments on disk, ascending.
    segments: Vec<u64>,
    /// Checkpoints on disk, ascending: (LSN, base LSN; 0 for a full one).
    checkpoints: Vec<(u64, u64)>,
    /// What changed since the newest checkpoint, for an incremental one;
    /// `None` (after open) makes the next checkpoint full.
    since: Option<ChangesSince>,
    options: StoreOptions,
    bytes_since_checkpoint: u64,
    /// Log bytes written since the newest full checkpoint: retention keeps
    /// the log back to the full checkpoint before it, so this bounds it.
    bytes_since_full: u64,
    recovery: RecoveryReport,
    /// Holds the directory's lock until the store is dropped.
    _lock: File,
}

impl Store {
    /// A store with no files.
    pub fn memory() -> Store {
        Store::assemble(State::new(), 0, None, Counters::default())
    }

    /// A store with no files holding `state` as of `lsn` (time travel's result).
    pub fn detached(state: State, lsn: u64) -> Store {
        Store::assemble(state, lsn, None, Counters::default())
    }

    /// A store over `state` as of `last_lsn`, its counters set to match.
    fn assemble(state: State, last_lsn: u64, durable: Option<Durable>, counters: Counters) -> Store {
        counters.set(Counter::Lsn, last_lsn as f64);
        counters.raise(Counter::DurableLsn, last_lsn as f64);
        counters.set(Counter::PagesLive, state.live_page_count() as f64);
        counters.set(
            Counter::PageBytes,
            state.pages().map(|(_, page)| page.size() as f64).sum(),
        );
        Store {
            state,
            last_lsn,
            counters,
            durable,
            propagation: Propagation::default(),
        }
    }

    /// The counters (counters.rs): shared cells, updated as the store works.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A snapshot of every counter, by name.
    pub fn stats(&self) -> Vec<(&'static str, f64)> {
        self.counters.snapshot()
    }

    /// Opens (creating when missing) the data directory `dir` and recovers
    /// its state: the newest valid checkpoint, then the log after it, with the
    /// cross-checks and the torn-tail rule of recovery.rs.
    pub fn open(fs: Arc<dyn FileSystem>, dir: &Path, options: StoreOptions) -> Result<Store> {
        if dir.as_os_str().is_empty() {
            return fail!(InvalidArgument, "the data directory must be a non-empty path");
        }
        let log_dir = dir.join("log");
        let checkpoint_dir = dir.join("checkpoints");
        for path in [dir, &log_dir, &checkpoint_dir] {
            fs.create_dir_all(path)
                .map_err(|error| Error::io("creating", path, &error))?;
        }
        let lock = lock_directory(dir)?;
        let started = std::time::Instant::now();
        let counters = Counters::default();
        let files = DirectoryFiles {
            segments: list_numbered(fs.as_ref(), &log_dir, parse_segment_name)?,
            checkpoints: list_numbered(fs.as_ref(), &checkpoint_dir, parse_checkpoint_name)?,
        };
        // A checkpoint whose header does not read is kept as full; loading it fails and falls back.
        let checkpoints: Vec<(u64, u64)> = files
            .checkpoints
            .iter()
            .map(|&lsn| {
                let header = read_header(fs.as_ref(), &checkpoint_dir.join(checkpoint_name(lsn)));
                (lsn, header.map_or(0, |header| header.base_lsn))
            })
            .collect();
        // Page files are memory, not state: the replay below makes them anew.
        let pages_dir = dir.join("pages");
        remove_leftovers(&pages_dir)?;
        let replayed = recover(
            fs.as_ref(),
            dir,
            &files,
            &MemoryConfig::Directory(pages_dir),
            SegmentReads::Mapped,
        )?;
        let mut segments = files.segments;
        let torn_tail = match &replayed.tail {
            Some(tail) if tail.torn_bytes() > 0 => Some(cut_torn_tail(fs.as_ref(), dir, tail, options.recovery_mode)?),
            _ => None,
        };
        let recovery = RecoveryReport {
            checkpoint_lsn: replayed.base_lsn,
            records_replayed: replayed.last_lsn - replayed.base_lsn,
            torn_bytes_truncated: torn_tail.as_ref().map_or(0, |torn| torn.bytes),
            torn_tail,
        };
        counters.set(Counter::RecoveryRecords, recovery.records_replayed as f64);
        counters.set(Counter::RecoveryNanos, started.elapsed().as_nanos() as f64);
        let next_lsn = replayed.last_lsn + 1;
        let writer = match (replayed.tail, recovery.torn_tail.is_some()) {
            (Some(tail), torn) if tail.valid_len >= SEGMENT_HEADER_BYTES as u64 => LogWriter::resume(
                Arc::clone(&fs),
                &log_dir,
                tail.segment_first_lsn,
                tail.valid_len,
                if torn { tail.valid_len } else { tail.file_len },
                tail.fill.unwrap_or(FILL_V2),
                next_lsn,
                options.segment_bytes_max,
                counters.clone(),
            )?,
            (tail, _) => {
                // No segment yet, or the newest one lost its header to a torn write.
                if let Some(tail) = tail {
                    fs.remove(&tail.segment_path)
                        .map_err(|error| Error::io("removing", &tail.segment_path, &error))?;
                    segments.pop();
                }
                LogWriter::create_segment(fs.as_ref(), &log_dir, next_lsn)?;
                segments.push(next_lsn);
                LogWriter::resume(
                    Arc::clone(&fs),
                    &log_dir,
                    next_lsn,
                    SEGMENT_HEADER_BYTES as u64,
                    SEGMENT_HEADER_BYTES as u64,
                    FILL_V2,
                    next_lsn,
                    options.segment_bytes_max,
                    counters.clone(),
                )?
            }
        };
        Ok(Store::assemble(
            replayed.state,
            replayed.last_lsn,
            Some(Durable {
                fs,
                log_dir,
                checkpoint_dir,
                writer,
                segments,
                checkpoints,
                since: None,
                options,
                bytes_since_checkpoint: 0,
                bytes_since_full: 0,
                recovery,
                _lock: lock,
            }),
            counters,
        ))
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The LSN of the last change (0 before any).
    pub fn last_lsn(&self) -> u64 {
        self.last_lsn
    }

    /// The highest LSN known durable; in memory, every change counts as durable.
    pub fn durable_lsn(&self) -> u64 {
        self.durable
            .as_ref()
            .map_or(self.last_lsn, |durable| durable.writer.durable_lsn())
    }

    pub fn is_durable(&self) -> bool {
        self.durable.is_some()
    }

    /// The log's first failure, once it failed (writer.rs).
    pub fn log_failure(&self) -> Option<Error> {
        self.durable.as_ref().and_then(|durable| durable.writer.failure())
    }

    pub fn recovery_report(&self) -> Option<&RecoveryReport> {
        self.durable.as_ref().map(|durable| &durable.recovery)
    }

    /// A sync of every change so far, to run on any thread; `None` in memory.
    pub fn sync_job(&self) -> Option<SyncJob> {
        self.durable.as_ref().map(|durable| durable.writer.sync_job())
    }

    /// True when the log has grown past `checkpoint_every_bytes` since the last checkpoint.
    pub fn checkpoint_due(&self) -> bool {
        self.durable
            .as_ref()
            .is_some_and(|durable| durable.bytes_since_checkpoint >= durable.options.checkpoint_every_bytes)
    }

    /// Creates a zeroed page in the default memory for one page (heap).
    pub fn create_page(&mut self, size: u64, location: Location, metadata: &[(&str, &[u8])]) -> Result<PageId> {
        self.create_page_in(MemoryKind::default_for_page(size), size, location, metadata)
    }

    /// Creates a zeroed page whose bytes live in `memory`.
    pub fn create_page_in(
        &mut self,
        memory: MemoryKind,
        size: u64,
        location: Location,
        metadata: &[(&str, &[u8])],
    ) -> Result<PageId> {
        let next_id = self.state.next_page_id();
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        let id = state.create_page_in(memory, size, location, metadata, || {
            log(durable, last_lsn, counters, RecordKind::PageCreate, || {
                Cow::Owned(body::encode_page_create(next_id, size, location, memory, metadata))
            })
        })?;
        counters.add(Counter::PagesLive, 1.0);
        counters.add(Counter::PageBytes, size as f64);
        Ok(id)
    }

    /// Creates `count` zeroed pages in the default memory for pages made in
    /// bulk (arena up to `ARENA_PAGE_MAX` bytes, heap above).
    pub fn create_pages(&mut self, count: u64, size: u64, location: Location) -> Result<PageId> {
        self.create_pages_in(MemoryKind::default_for_pages(size), count, size, location)
    }

    /// Creates `count` zeroed pages whose bytes live in `memory`.
    pub fn create_pages_in(&mut self, memory: MemoryKind, count: u64, size: u64, location: Location) -> Result<PageId> {
        let next_id = self.state.next_page_id();
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        let first = state.create_pages_in(memory, count, size, location, || {
            log(durable, last_lsn, counters, RecordKind::PagesCreate, || {
                Cow::Owned(body::encode_pages_create(next_id, count, size, location, memory))
            })
        })?;
        counters.add(Counter::PagesLive, count as f64);
        counters.add(Counter::PageBytes, (count * size) as f64);
        Ok(first)
    }

    /// Moves a page's bytes to the backend `memory` (a page-move record).
    /// Returns false, logging nothing, when the page is there already.
    pub fn move_page(&mut self, id: PageId, memory: MemoryKind) -> Result<bool> {
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        let moved = state.move_page(id, memory, || {
            log(durable, last_lsn, counters, RecordKind::PageMove, || {
                Cow::Owned(body::encode_page_move(id, memory))
            })
        })?;
        if moved {
            // The next incremental checkpoint must hold the page's new memory.
            self.note(|durable| durable.note_changed(id));
        }
        Ok(moved)
    }

    /// The bytes of a page for a zero-copy view (`State::export_view`).
    pub fn export_view(&mut self, id: PageId) -> Result<ViewBytes> {
        self.state.export_view(id)
    }

    pub fn release_page(&mut self, id: PageId) -> Result<()> {
        let size = self.state.page(id)?.size();
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        state.release_page(id, || {
            log(durable, last_lsn, counters, RecordKind::PageRelease, || {
                Cow::Owned(body::encode_page_release(id))
            })
        })?;
        counters.add(Counter::PagesLive, -1.0);
        counters.add(Counter::PageBytes, -(size as f64));
        self.note(|durable| durable.note_released(id));
        self.propagation.set_recompute(id, None);
        Ok(())
    }

    pub fn set_metadata(&mut self, id: PageId, key: &str, value: Option<&[u8]>) -> Result<()> {
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        state.set_metadata(id, key, value, || {
            log(durable, last_lsn, counters, RecordKind::MetadataSet, || {
                Cow::Owned(body::encode_metadata_set(id, key, value))
            })
        })?;
        self.note(|durable| durable.note_changed(id));
        Ok(())
    }

    /// Adds the edge `parent → child`; refuses a cycle with `GRAPH_CYCLE`.
    pub fn add_edge(&mut self, edge: Edge) -> Result<()> {
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        state.add_edge(edge, || {
            log(durable, last_lsn, counters, RecordKind::EdgeAdd, || {
                Cow::Owned(body::encode_edge_add(edge))
            })
        })?;
        self.propagation.graph_changed();
        Ok(())
    }

    pub fn remove_edge(&mut self, parent: PageId, child: PageId) -> Result<()> {
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        state.remove_edge(parent, child, || {
            log(durable, last_lsn, counters, RecordKind::EdgeRemove, || {
                Cow::Owned(body::encode_edge_remove(parent, child))
            })
        })?;
        self.propagation.graph_changed();
        Ok(())
    }

    /// Sets (or with `None` removes) the recompute of a page.
    pub fn set_recompute(&mut self, child: PageId, recompute: Option<Recompute>) -> Result<()> {
        self.state.page(child)?;
        self.propagation.set_recompute(child, recompute);
        Ok(())
    }

    /// The propagation engine: registrations, the pending wave's plan, counters.
    pub fn propagation(&self) -> &Propagation {
        &self.propagation
    }

    /// Starts the wave of a commit that changed `changed` and runs it as far
    /// as it can (propagation/mod.rs): `WAVE_LIMIT` when it would visit more
    /// than `limit` pages, before anything is recomputed. `memory` is where a
    /// wave with recomputes of the embedding runs; `list_pages` asks for the
    /// changed pages in the summary.
    pub fn begin_wave(
        &mut self,
        changed: &[PageId],
        limit: usize,
        memory: Option<&mut [u8]>,
        list_pages: bool,
    ) -> Result<WaveStep> {
        self.propagation.begin(&self.state, changed, limit, list_pages)?;
        self.resume_wave(memory)
    }

    /// Runs the pending wave on after the embedding ran a phase (or with
    /// larger memory); at its end the outputs are applied as one batch with
    /// source `propagation`, one log record. On any error nothing of the wave
    /// is applied.
    pub fn resume_wave(&mut self, memory: Option<&mut [u8]>) -> Result<WaveStep> {
        let Store {
            state,
            last_lsn,
            durable,
            propagation,
            counters,
        } = self;
        propagation.advance(state, memory, |state, outputs: &Outputs<'_>, body| {
            let log_body = wave_log_body(outputs, body);
            if !outputs.checked() && outputs.count() <= BATCHED_OUTPUTS_MAX {
                let deltas: Vec<Delta<&[u8]>> = outputs
                    .iter()
                    .map(|(page_id, bytes)| propagated(page_id, bytes))
                    .collect();
                state.apply_batch(&deltas, || {
                    log(durable, last_lsn, counters, RecordKind::Deltas, log_body)
                })?;
                count_forms(counters, &deltas);
                if let Some(durable) = durable {
                    deltas.iter().for_each(|delta| durable.note_changed(delta.page_id));
                }
            } else {
                // Checked first, as a batch is: after the record is logged, every apply succeeds.
                if !outputs.checked() {
                    for (page_id, bytes) in outputs.iter() {
                        Payload::Dense(bytes).validate(page_id, state.page(page_id)?.size())?;
                    }
                }
                // Then applied one by one; the first apply logs the record of all of them. The
                // others cannot fail: each output was checked above, or computed in this call.
                let mut outputs_left = outputs.iter();
                if let Some((page_id, bytes)) = outputs_left.next() {
                    let first = propagated(page_id, bytes);
                    state.apply(&first, || {
                        log(&mut *durable, &mut *last_lsn, counters, RecordKind::Deltas, log_body)
                    })?;
                    counters.add(Counter::DeltasDense, outputs.count() as f64);
                    durable.iter_mut().for_each(|durable| durable.note_changed(page_id));
                }
                for (page_id, bytes) in outputs_left {
                    state.apply(&propagated(page_id, bytes), nothing)?;
                    durable.iter_mut().for_each(|durable| durable.note_changed(page_id));
                }
            }
            Ok(())
        })
    }

    /// Ends the pending wave as failed (a recompute of the embedding failed).
    pub fn abort_wave(&mut self) {
        self.propagation.abort();
    }

    /// Runs a whole wave whose recomputes are all built-ins.
    pub fn propagate(&mut self, changed: &[PageId], limit: usize) -> Result<WaveSummary> {
        match self.begin_wave(changed, limit, None, false)? {
            WaveStep::Done(summary) => Ok(summary),
            _ => {
                self.abort_wave();
                fail!(
                    InvalidArgument,
                    "the wave of pages {changed:?} reaches recomputes of the embedding: run it with begin_wave"
                )
            }
        }
    }

    /// Applies one delta; returns the page's new epoch.
    pub fn apply<B: AsRef<[u8]>>(&mut self, delta: &Delta<B>) -> Result<u64> {
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        let epoch = state.apply(delta, || {
            log(durable, last_lsn, counters, RecordKind::Deltas, || {
                Cow::Owned(encode_for_log(std::slice::from_ref(delta)))
            })
        })?;
        count_forms(counters, std::slice::from_ref(delta));
        self.note(|durable| durable.note_changed(delta.page_id));
        Ok(epoch)
    }

    /// Applies deltas in order, all or none.
    pub fn apply_batch<B: AsRef<[u8]>>(&mut self, deltas: &[Delta<B>]) -> Result<()> {
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        state.apply_batch(deltas, || {
            log(durable, last_lsn, counters, RecordKind::Deltas, || {
                Cow::Owned(encode_for_log(deltas))
            })
        })?;
        count_forms(counters, deltas);
        self.note(|durable| deltas.iter().for_each(|delta| durable.note_changed(delta.page_id)));
        Ok(())
    }

    /// Applies an `MDB1`-encoded batch, all or none; its bytes become the log
    /// record's body as they are. Returns the number of deltas.
    pub fn apply_encoded(&mut self, encoded: &[u8]) -> Result<usize> {
        let deltas = decode_batch(encoded)?;
        let Store {
            state,
            last_lsn,
            durable,
            counters,
            ..
        } = self;
        state.apply_batch(&deltas, || {
            log(durable, last_lsn, counters, RecordKind::Deltas, || {
                if has_runs_worth_coding(&deltas) {
                    Cow::Owned(encode_for_log(&deltas))
                } else {
                    Cow::Borrowed(encoded)
                }
            })
        })?;
        count_forms(counters, &deltas);
        self.note(|durable| deltas.iter().for_each(|delta| durable.note_changed(delta.page_id)));
        Ok(deltas.len())
    }

    /// Records a successful change for the next incremental checkpoint.
    fn note(&mut self, record: impl FnOnce(&mut Durable)) {
        if let Some(durable) = self.durable.as_mut() {
            record(durable);
        }
    }

    /// Syncs the log, writes a checkpoint of the current state, starts a new
    /// segment, and drops checkpoints and segments beyond retention. The
    /// checkpoint is incremental (only pages changed since the newest one)
    /// unless `full` is asked for, there is no base since open, the chain of
    /// increments is long, half the state's bytes changed, or the log since
    /// the newest full checkpoint outgrew the state (a full one then frees
    /// more log than it costs: retention keeps the log back to the full
    /// checkpoint before the newest).
    pub fn checkpoint(&mut self, full: bool) -> Result<CheckpointInfo> {
        let Some(durable) = self.durable.as_mut() else {
            return fail!(InvalidArgument, "an in-memory bus has no checkpoints");
        };
        let started = std::time::Instant::now();
        durable.writer.sync_job().run()?;
        let since = durable.since.as_ref().filter(|since| {
            !full
                && since.chain_length < INCREMENTAL_CHAIN_MAX
                && increment_pays(&self.state, since, durable.bytes_since_full)
        });
        let increment = since.map(|since| Increment {
            base_lsn: since.base_lsn,
            base_next_page_id: since.base_next_page_id,
            changed: &since.changed,
            released: &since.released,
        });
        let chain_length = since.map_or(0, |since| since.chain_length + 1);
        let info = write_checkpoint(
            durable.fs.as_ref(),
            &durable.checkpoint_dir,
            &self.state,
            self.last_lsn,
            increment.as_ref(),
        )?;
        durable.since = Some(ChangesSince {
            base_lsn: info.lsn,
            base_next_page_id: self.state.next_page_id(),
            chain_length,
            changed: HashSet::new(),
            released: Vec::new(),
        });
        durable.writer.roll()?;
        durable.note_new_segment();
        self.last_lsn = durable
            .writer
            .append(RecordKind::Checkpoint, false, &[&body::encode_checkpoint(info.lsn)])?;
        durable.checkpoints.retain(|&(lsn, _)| lsn != info.lsn);
        durable.checkpoints.push((info.lsn, info.base_lsn));
        durable.bytes_since_checkpoint = 0;
        let counters = &self.counters;
        counters.set(Counter::Lsn, self.last_lsn as f64);
        counters.set(Counter::CheckpointDue, 0.0);
        counters.add(Counter::Checkpoints, 1.0);
        counters.set(Counter::CheckpointLastBytes, info.bytes as f64);
        counters.add(Counter::CheckpointNanos, started.elapsed().as_nanos() as f64);
        if info.base_lsn == 0 {
            durable.bytes_since_full = 0;
        }
        durable.retain()?;
        Ok(info)
    }

    /// A detached copy of the state as it was after record `lsn`, rebuilt
    /// from the newest retained checkpoint at or below it and the log.
    pub fn state_at(&self, lsn: u64) -> Result<State> {
        let Some(durable) = self.durable.as_ref() else {
            return fail!(InvalidArgument, "an in-memory bus keeps no history to replay");
        };
        if lsn > self.last_lsn {
            return fail!(
                LsnOutOfRange,
                "LSN {lsn} is after the last record, LSN {}",
                self.last_lsn
            );
        }
        let oldest = durable.oldest_reachable_lsn(self.last_lsn);
        if lsn < oldest {
            return fail!(
                LsnOutOfRange,
                "LSN {lsn} is before the oldest retained checkpoint, LSN {oldest}"
            );
        }
        let fs = durable.fs.as_ref();
        let lsns: Vec<u64> = durable.checkpoints.iter().map(|&(lsn, _)| lsn).collect();
        let log_first_lsn = durable.log_first_lsn();
        let private = MemoryConfig::Private;
        let (base, base_lsn) = load_base(fs, &durable.checkpoint_dir, &lsns, lsn, log_first_lsn, &private)?;
        Ok(replay(
            fs,
            &durable.log_dir,
            &durable.segments,
            base,
            base_lsn,
            Some(lsn),
            SegmentReads::Mapped,
        )?
        .state)
    }

    /// The oldest LSN `state_at` can reach (0: the empty state before LSN 1).
    pub fn oldest_lsn(&self) -> u64 {
        self.durable
            .as_ref()
            .map_or(self.last_lsn, |durable| durable.oldest_reachable_lsn(self.last_lsn))
    }
}

/// Reads go straight to the state; changes go through the store's methods.
impl std::ops::Deref for Store {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

impl Durable {
    /// Records the writer's segment when an append or a checkpoint started a new one.
    fn note_new_segment(&mut self) {
        let first_lsn = self.writer.segment_first_lsn();
        if self.segments.last() != Some(&first_lsn) {
            self.segments.push(first_lsn);
        }
    }

    /// The newest `checkpoints_retained` checkpoints: the window of time travel.
    fn retained_window(&self) -> &[(u64, u64)] {
        let retained = self.options.checkpoints_retained.max(1);
        &self.checkpoints[self.checkpoints.len().saturating_sub(retained)..]
    }

    fn log_first_lsn(&self) -> u64 {
        self.segments.first().copied().unwrap_or(1)
    }

    /// The base of the checkpoint at `lsn`, when the checkpoint is on disk.
    fn base_of(&self, lsn: u64) -> Option<u64> {
        self.checkpoints
            .iter()
            .find(|&&(checkpoint, _)| checkpoint == lsn)
            .map(|&(_, base)| base)
    }

    /// The checkpoint at `lsn` and every base it needs, down to its full one;
    /// `None` when one of them is not on disk.
    fn chain(&self, lsn: u64) -> Option<Vec<u64>> {
        let mut chain = vec![lsn];
        let mut base = self.base_of(lsn)?;
        while base != 0 {
            chain.push(base);
            base = self.base_of(base)?;
        }
        Some(chain)
    }

    /// The oldest LSN `state_at` can serve: 0 while the log starts at LSN 1,
    /// else the oldest checkpoint whose chain is on disk and whose log
    /// follows it. It depends on the files alone, not on the options.
    fn oldest_reachable_lsn(&self, last_lsn: u64) -> u64 {
        let log_first = self.log_first_lsn();
        if log_first == 1 {
            return 0;
        }
        self.checkpoints
            .iter()
            .map(|&(lsn, _)| lsn)
            .find(|&lsn| lsn + 1 >= log_first && self.chain(lsn).is_some())
            .unwrap_or(last_lsn)
    }

    /// Deletes what retention no longer needs. Kept: the newest
    /// `checkpoints_retained` checkpoints with the bases they need, and the
    /// newest full checkpoint older than all of those (the fallback), with the
    /// log back to it. So any one damaged checkpoint file is survivable: a
    /// damaged increment falls back to an older link, a damaged base to the
    /// fallback and the log. Until a fallback exists, the whole log is kept.
    fn retain(&mut self) -> Result<()> {
        let fs = self.fs.as_ref();
        let mut keep: HashSet<u64> = HashSet::new();
        for &(lsn, _) in self.retained_window() {
            keep.extend(self.chain(lsn).unwrap_or_else(|| vec![lsn]));
        }
        let oldest_kept = keep.iter().copied().min().unwrap_or(0);
        let fallback = self
            .checkpoints
            .iter()
            .rev()
            .find(|&&(lsn, base)| base == 0 && lsn < oldest_kept)
            .map(|&(lsn, _)| lsn);
        keep.extend(fallback);
        for &(lsn, _) in self.checkpoints.iter().filter(|(lsn, _)| !keep.contains(lsn)) {
            let path = self.checkpoint_dir.join(checkpoint_name(lsn));
            fs.remove(&path)
                .map_err(|error| Error::io("removing checkpoint", &path, &error))?;
        }
        self.checkpoints.retain(|(lsn, _)| keep.contains(lsn));
        if let Some(log_from) = fallback {
            while self.segments.len() > 1 && self.segments[1] <= log_from + 1 {
                let path = self.log_dir.join(segment_name(self.segments[0]));
                fs.remove(&path)
                    .map_err(|error| Error::io("removing segment", &path, &error))?;
                self.segments.remove(0);
            }
        }
        for dir in [&self.checkpoint_dir, &self.log_dir] {
            fs.sync_dir(dir)
                .map_err(|error| Error::io("syncing directory", dir, &error))?;
        }
        Ok(())
    }

    /// Notes a change for the next incremental checkpoint.
    fn note_changed(&mut self, id: PageId) {
        if let Some(since) = self.since.as_mut().filter(|since| id < since.base_next_page_id) {
            since.changed.insert(id);
        }
    }

    fn note_released(&mut self, id: PageId) {
        if let Some(since) = self.since.as_mut().filter(|since| id < since.base_next_page_id) {
            since.changed.remove(&id);
            since.released.push(id);
        }
    }
}

/// True when the pages an incremental checkpoint would hold are at most half
/// of the state's bytes (else a full checkpoint costs little more) and the
/// log written since the newest full checkpoint is smaller than the state.
fn increment_pays(state: &State, since: &ChangesSince, log_bytes_since_full: u64) -> bool {
    let mut changed_bytes = 0u64;
    let mut total_bytes = 0u64;
    for (id, page) in state.pages() {
        total_bytes += page.size();
        if id >= since.base_next_page_id || since.changed.contains(&id) {
            changed_bytes += page.size();
        }
    }
    changed_bytes * 2 <= total_bytes && log_bytes_since_full < total_bytes
}

/// Counts applied deltas by payload form.
fn count_forms<B>(counters: &Counters, deltas: &[Delta<B>]) {
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
            counters.add(counter, f64::from(count));
        }
    }
}

/// Appends a record for a validated change (durable store), or just counts
/// its LSN (in memory). `body` is only built when there is a log.
fn log<'a>(
    durable: &mut Option<Durable>,
    last_lsn: &mut u64,
    counters: &Counters,
    kind: RecordKind,
    body: impl FnOnce() -> Cow<'a, [u8]>,
) -> Result<()> {
    match durable {
        Some(durable) => {
            let body = body();
            let compressed = durable
                .options
                .compress_bytes_min
                .filter(|&min| body.len() as u64 >= min)
                .and_then(|_| zstd::bulk::compress(&body, 1).ok())
                .filter(|stored| stored.len() <= body.len() - body.len() / 8);
            let stored: &[u8] = compressed.as_deref().unwrap_or(&body);
            *last_lsn = durable.writer.append(kind, compressed.is_some(), &[stored])?;
            durable.note_new_segment();
            durable.bytes_since_checkpoint += stored.len() as u64;
            durable.bytes_since_full += stored.len() as u64;
            let due = durable.bytes_since_checkpoint >= durable.options.checkpoint_every_bytes;
            counters.set(Counter::CheckpointDue, f64::from(u8::from(due)));
        }
        None => *last_lsn += 1,
    }
    counters.set(Counter::Lsn, *last_lsn as f64);
    Ok(())
}

/// The body of a wave's log record, written into `body` only when there is a log.
fn wave_log_body<'a>(outputs: &'a Outputs<'_>, body: &'a mut Vec<u8>) -> impl FnOnce() -> Cow<'a, [u8]> {
    move || {
        outputs.write_log_body(body);
        Cow::Borrowed(body.as_slice())
    }
}

/// Takes the directory's lock, held while the returned file lives.
pub(crate) fn lock_directory(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let file = File::create(&path).map_err(|error| Error::io("creating", &path, &error))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            fail!(
                DirectoryLocked,
                "data directory {} is open in another bus or process",
                dir.display()
            )
        }
        Err(std::fs::TryLockError::Error(error)) => Err(Error::io("locking", &path, &error)),
    }
}

/// The numbers of the files in `dir` that `parse` recognises, ascending;
/// removes leftover temporary files of interrupted checkpoints.
fn list_numbered(fs: &dyn FileSystem, dir: &Path, parse: fn(&str) -> Option<u64>) -> Result<Vec<u64>> {
    let names = fs.list(dir).map_err(|error| Error::io("listing", dir, &error))?;
    let mut numbers = Vec::new();
    for name in names {
        if let Some(number) = parse(&name) {
            numbers.push(number);
        } else if name.ends_with(".tmp") {
            let path = dir.join(&name);
            fs.remove(&path).map_err(|error| Error::io("removing", &path, &error))?;
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}
