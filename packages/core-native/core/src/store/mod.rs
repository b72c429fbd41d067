//! The store: a state plus, for a data directory, its log and checkpoints.
//!
//! Every mutation is validated by the state, then appended to the log, then
//! applied (write-ahead). The store assigns LSNs (in memory too, so LSNs mean
//! the same with or without a directory). Durability of an appended record is
//! a separate step, `sync_job`, so that concurrent writers share one sync.
//!
//! The store is split by concept: `journal` (LSNs, the log, the counters
//! every change updates), `retention` (which checkpoints and segments stay,
//! what changed since the newest checkpoint), `waves` (the store's side of a
//! propagation wave); the data directory's paths, lock and files are
//! `crate::directory`'s.

mod journal;
mod retention;
mod waves;

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

pub use journal::APPLY_TIMING_PERIOD;
use journal::{Durable, Journal};
use retention::{increment_pays, ChangesSince, INCREMENTAL_CHAIN_MAX};

use crate::checkpoint::{checkpoint_name, read_header, write_checkpoint, CheckpointInfo, Increment};
use crate::counters::{Counter, Counters, Histogram};
use crate::delta::encoding::{decode_batch, encode_for_log, has_runs_worth_coding};
use crate::delta::Delta;
use crate::directory::DataDirectory;
use crate::error::{fail, Error, Result};
use crate::graph::Edge;
use crate::log::body;
use crate::log::record::RecordKind;
use crate::log::segment::{FILL_V2, SEGMENT_HEADER_BYTES};
use crate::log::writer::{LogWriter, SyncJob};
use crate::page::{Location, PageId};
use crate::page_memory::{remove_leftovers, MemoryConfig, MemoryKind, ViewBytes};
use crate::propagation::Propagation;
use crate::recovery::{cut_torn_tail, load_base, recover, replay, RecoveryMode, SegmentReads, TornTail};
use crate::state::State;
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
    /// LSNs, the log and checkpoints of a data directory, and the counters.
    journal: Journal,
    /// The propagation engine: recomputes of children, registered at run
    /// time and not persisted (derived deltas are logged), plans and counters.
    propagation: Propagation,
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
        for (_, page) in state.pages() {
            count_pages_in(&counters, page.memory(), 1, page.size());
        }
        let segments = durable.as_ref().map_or(0, |durable| durable.segments.len());
        counters.set(Counter::LogSegments, segments as f64);
        Store {
            state,
            journal: Journal {
                last_lsn,
                durable,
                counters,
                apply_calls: 0,
            },
            propagation: Propagation::default(),
        }
    }

    /// The counters (counters.rs): shared cells, updated as the store works.
    pub fn counters(&self) -> &Counters {
        &self.journal.counters
    }

    /// A snapshot of every counter, by name.
    pub fn stats(&self) -> Vec<(&'static str, f64)> {
        self.journal.counters.snapshot()
    }

    /// Opens (creating when missing) the data directory `dir` and recovers
    /// its state: the newest valid checkpoint, then the log after it, with the
    /// cross-checks and the torn-tail rule of recovery.rs.
    pub fn open(fs: Arc<dyn FileSystem>, dir: &Path, options: StoreOptions) -> Result<Store> {
        if dir.as_os_str().is_empty() {
            return fail!(InvalidArgument, "the data directory must be a non-empty path");
        }
        let directory = DataDirectory::at(dir);
        directory.create(fs.as_ref())?;
        let lock = directory.lock()?;
        directory.remove_temporaries(fs.as_ref())?;
        let log_dir = directory.log_dir().to_owned();
        let checkpoint_dir = directory.checkpoint_dir().to_owned();
        let started = std::time::Instant::now();
        let counters = Counters::default();
        let files = directory.files(fs.as_ref())?;
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
        let pages_dir = directory.pages_dir();
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
        // What recovery read may be what a process wrote and never made durable
        // (it crashed first): a segment whose directory entry a power loss would
        // still drop, with every record acknowledged after it. So the directories
        // are synced before anything new is acknowledged (the writer's resume
        // synced the newest segment's bytes).
        for dir in [&log_dir, &checkpoint_dir] {
            fs.sync_dir(dir)
                .map_err(|error| Error::io("syncing directory", dir, &error))?;
        }
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
        self.journal.last_lsn
    }

    /// The highest LSN known durable; in memory, every change counts as durable.
    pub fn durable_lsn(&self) -> u64 {
        self.journal
            .durable
            .as_ref()
            .map_or(self.journal.last_lsn, |durable| durable.writer.durable_lsn())
    }

    pub fn is_durable(&self) -> bool {
        self.journal.durable.is_some()
    }

    /// The log's first failure, once it failed (writer.rs).
    pub fn log_failure(&self) -> Option<Error> {
        self.journal
            .durable
            .as_ref()
            .and_then(|durable| durable.writer.failure())
    }

    pub fn recovery_report(&self) -> Option<&RecoveryReport> {
        self.journal.durable.as_ref().map(|durable| &durable.recovery)
    }

    /// A sync of every change so far, to run on any thread; `None` in memory.
    pub fn sync_job(&self) -> Option<SyncJob> {
        self.journal.durable.as_ref().map(|durable| durable.writer.sync_job())
    }

    /// True when the log has grown past `checkpoint_every_bytes` since the last checkpoint.
    pub fn checkpoint_due(&self) -> bool {
        self.journal
            .durable
            .as_ref()
            .is_some_and(|durable| durable.bytes_since_checkpoint >= durable.options.checkpoint_every_bytes)
    }

    /// Creates a zeroed page in the default memory for one page (heap).
    pub fn create_page(&mut self, size: u64, location: Location, metadata: &[(&str, &[u8])]) -> Result<PageId> {
        self.create_page_in(MemoryKind::default_for_page(location, size), size, location, metadata)
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
        let Store { state, journal, .. } = self;
        let id = state.create_page_in(memory, size, location, metadata, || {
            journal.log(RecordKind::PageCreate, || {
                Cow::Owned(body::encode_page_create(next_id, size, location, memory, metadata))
            })
        })?;
        journal.counters.add(Counter::PagesLive, 1.0);
        journal.counters.add(Counter::PageBytes, size as f64);
        count_pages_in(&journal.counters, memory, 1, size);
        Ok(id)
    }

    /// Creates `count` zeroed pages in the default memory for pages made in
    /// bulk (arena up to `ARENA_PAGE_MAX` bytes, heap above).
    pub fn create_pages(&mut self, count: u64, size: u64, location: Location) -> Result<PageId> {
        self.create_pages_in(MemoryKind::default_for_pages(location, size), count, size, location)
    }

    /// Creates `count` zeroed pages whose bytes live in `memory`.
    pub fn create_pages_in(&mut self, memory: MemoryKind, count: u64, size: u64, location: Location) -> Result<PageId> {
        let next_id = self.state.next_page_id();
        let Store { state, journal, .. } = self;
        let first = state.create_pages_in(memory, count, size, location, || {
            journal.log(RecordKind::PagesCreate, || {
                Cow::Owned(body::encode_pages_create(next_id, count, size, location, memory))
            })
        })?;
        journal.counters.add(Counter::PagesLive, count as f64);
        journal.counters.add(Counter::PageBytes, (count * size) as f64);
        count_pages_in(&journal.counters, memory, count as i64, size);
        Ok(first)
    }

    /// Moves a page's bytes to the backend `memory` (a page-move record).
    /// Returns false, logging nothing, when the page is there already.
    pub fn move_page(&mut self, id: PageId, memory: MemoryKind) -> Result<bool> {
        let (size, from) = self.state.page(id).map(|page| (page.size(), page.memory()))?;
        let Store { state, journal, .. } = self;
        let moved = state.move_page(id, memory, || {
            journal.log(RecordKind::PageMove, || Cow::Owned(body::encode_page_move(id, memory)))
        })?;
        if moved {
            count_pages_in(&self.journal.counters, from, -1, size);
            count_pages_in(&self.journal.counters, memory, 1, size);
            // The next incremental checkpoint must hold the page's new memory.
            self.journal.note(|durable| durable.note_changed(id));
        }
        Ok(moved)
    }

    /// The bytes of a page for a zero-copy view (`State::export_view`).
    pub fn export_view(&mut self, id: PageId) -> Result<ViewBytes> {
        self.state.export_view(id)
    }

    /// A page's memory, for residency changes that are not logged (prefetch,
    /// evict, a move between devices, device pointers): they change where
    /// the bytes are, never the bytes, epochs or hash.
    pub fn page_memory_of(&mut self, id: PageId) -> Result<&mut crate::page_memory::PageMemory> {
        self.state.page_memory_of(id)
    }

    /// The CUDA device that new device and managed pages go to.
    pub fn set_device(&mut self, ordinal: u32) -> Result<()> {
        self.state.page_memory_mut().set_device(ordinal)
    }

    pub fn release_page(&mut self, id: PageId) -> Result<()> {
        let (size, memory) = self.state.page(id).map(|page| (page.size(), page.memory()))?;
        let Store { state, journal, .. } = self;
        state.release_page(id, || {
            journal.log(RecordKind::PageRelease, || Cow::Owned(body::encode_page_release(id)))
        })?;
        journal.counters.add(Counter::PagesLive, -1.0);
        journal.counters.add(Counter::PageBytes, -(size as f64));
        count_pages_in(&journal.counters, memory, -1, size);
        self.journal.note(|durable| durable.note_released(id));
        self.propagation.set_recompute(id, None);
        Ok(())
    }

    pub fn set_metadata(&mut self, id: PageId, key: &str, value: Option<&[u8]>) -> Result<()> {
        let Store { state, journal, .. } = self;
        state.set_metadata(id, key, value, || {
            journal.log(RecordKind::MetadataSet, || {
                Cow::Owned(body::encode_metadata_set(id, key, value))
            })
        })?;
        self.journal.note(|durable| durable.note_changed(id));
        Ok(())
    }

    /// Adds the edge `parent → child`; refuses a cycle with `GRAPH_CYCLE`.
    pub fn add_edge(&mut self, edge: Edge) -> Result<()> {
        let Store { state, journal, .. } = self;
        state.add_edge(edge, || {
            journal.log(RecordKind::EdgeAdd, || Cow::Owned(body::encode_edge_add(edge)))
        })?;
        self.propagation.graph_changed();
        Ok(())
    }

    pub fn remove_edge(&mut self, parent: PageId, child: PageId) -> Result<()> {
        let Store { state, journal, .. } = self;
        state.remove_edge(parent, child, || {
            journal.log(RecordKind::EdgeRemove, || {
                Cow::Owned(body::encode_edge_remove(parent, child))
            })
        })?;
        self.propagation.graph_changed();
        Ok(())
    }

    /// Applies one delta; returns the page's new epoch.
    pub fn apply<B: AsRef<[u8]>>(&mut self, delta: &Delta<B>) -> Result<u64> {
        let started = self.journal.apply_timer();
        let Store { state, journal, .. } = self;
        let epoch = state.apply(delta, || {
            journal.log(RecordKind::Deltas, || {
                Cow::Owned(encode_for_log(std::slice::from_ref(delta)))
            })
        })?;
        journal.count_forms(std::slice::from_ref(delta));
        self.journal.note(|durable| durable.note_changed(delta.page_id));
        self.journal.counters.observe_since(Histogram::ApplySeconds, started);
        Ok(epoch)
    }

    /// Applies deltas in order, all or none.
    pub fn apply_batch<B: AsRef<[u8]>>(&mut self, deltas: &[Delta<B>]) -> Result<()> {
        let started = self.journal.apply_timer();
        let Store { state, journal, .. } = self;
        state.apply_batch(deltas, || {
            journal.log(RecordKind::Deltas, || Cow::Owned(encode_for_log(deltas)))
        })?;
        journal.count_forms(deltas);
        self.journal
            .note(|durable| deltas.iter().for_each(|delta| durable.note_changed(delta.page_id)));
        self.journal.counters.observe_since(Histogram::ApplySeconds, started);
        Ok(())
    }

    /// Applies an `MDB1`-encoded batch, all or none; its bytes become the log
    /// record's body as they are. Returns the number of deltas.
    pub fn apply_encoded(&mut self, encoded: &[u8]) -> Result<usize> {
        let started = self.journal.apply_timer();
        let deltas = decode_batch(encoded)?;
        let Store { state, journal, .. } = self;
        state.apply_batch(&deltas, || {
            journal.log(RecordKind::Deltas, || {
                if has_runs_worth_coding(&deltas) {
                    Cow::Owned(encode_for_log(&deltas))
                } else {
                    Cow::Borrowed(encoded)
                }
            })
        })?;
        journal.count_forms(&deltas);
        self.journal
            .note(|durable| deltas.iter().for_each(|delta| durable.note_changed(delta.page_id)));
        self.journal.counters.observe_since(Histogram::ApplySeconds, started);
        Ok(deltas.len())
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
        let Some(durable) = self.journal.durable.as_mut() else {
            return fail!(InvalidArgument, "an in-memory bus has no checkpoints");
        };
        // Pages that no longer match the log must not become a checkpoint, which
        // reopening would load instead of replaying the log.
        self.state.sound()?;
        let started = std::time::Instant::now();
        durable.writer.sync_job().run()?;
        // An increment needs a base older than itself: after a checkpoint that failed
        // past writing its file, the base can be at the last LSN.
        let last_lsn = self.journal.last_lsn;
        let since = durable.since.as_ref().filter(|since| {
            !full
                && since.base_lsn < last_lsn
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
            self.journal.last_lsn,
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
        durable.checkpoints.retain(|&(lsn, _)| lsn != info.lsn);
        durable.checkpoints.push((info.lsn, info.base_lsn));
        // Retention runs before the marker is logged, so that a failure in it
        // fails the call with nothing logged, as every failed call leaves the log.
        durable.retain()?;
        self.journal.last_lsn =
            durable
                .writer
                .append(RecordKind::Checkpoint, false, &[&body::encode_checkpoint(info.lsn)])?;
        durable.bytes_since_checkpoint = 0;
        let counters = &self.journal.counters;
        counters.set(Counter::Lsn, self.journal.last_lsn as f64);
        counters.set(Counter::CheckpointDue, 0.0);
        counters.add(Counter::Checkpoints, 1.0);
        counters.set(Counter::CheckpointLastBytes, info.bytes as f64);
        counters.add(Counter::CheckpointBytes, info.bytes as f64);
        if info.base_lsn == 0 {
            durable.bytes_since_full = 0;
        }
        counters.set(Counter::LogSegments, durable.segments.len() as f64);
        let elapsed = started.elapsed();
        counters.add(Counter::CheckpointNanos, elapsed.as_nanos() as f64);
        counters.observe(Histogram::CheckpointSeconds, elapsed.as_secs_f64());
        Ok(info)
    }

    /// A detached copy of the state as it was after record `lsn`, rebuilt
    /// from the newest retained checkpoint at or below it and the log.
    pub fn state_at(&self, lsn: u64) -> Result<State> {
        let Some(durable) = self.journal.durable.as_ref() else {
            return fail!(InvalidArgument, "an in-memory bus keeps no history to replay");
        };
        if lsn > self.journal.last_lsn {
            return fail!(
                LsnOutOfRange,
                "LSN {lsn} is after the last record, LSN {}",
                self.journal.last_lsn
            );
        }
        let oldest = durable.oldest_reachable_lsn(self.journal.last_lsn);
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
        self.journal.durable.as_ref().map_or(self.journal.last_lsn, |durable| {
            durable.oldest_reachable_lsn(self.journal.last_lsn)
        })
    }
}

/// Counts `count` pages (negative: gone) of `size` bytes each in `memory`.
fn count_pages_in(counters: &Counters, memory: MemoryKind, count: i64, size: u64) {
    let (pages, bytes) = Counter::pages_in(memory);
    counters.add(pages, count as f64);
    counters.add(bytes, count as f64 * size as f64);
}

/// Reads go straight to the state; changes go through the store's methods.
impl std::ops::Deref for Store {
    type Target = State;

    fn deref(&self) -> &State {
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::storage::OsFileSystem;
    use crate::Location;

    /// Pages that no longer match the log (a write failed after its change
    /// was logged) never become a checkpoint: reopening would load them
    /// instead of replaying the log.
    #[test]
    fn a_store_whose_write_failed_after_the_log_writes_no_checkpoint() {
        let dir = std::env::temp_dir().join(format!("mmsb-failed-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::open(Arc::new(OsFileSystem), &dir, StoreOptions::default()).unwrap();
        store.create_page(8, Location::Cpu, &[]).unwrap();
        let failure = store.state.failed_after_logging(Error::new(
            ErrorCode::DeviceFailed,
            "cuLaunchKernel: CUDA_ERROR_LAUNCH_FAILED",
        ));
        assert_eq!(store.checkpoint(true).err(), Some(failure));
        let checkpoints = std::fs::read_dir(dir.join("checkpoints")).unwrap().count();
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(checkpoints, 0);
    }
}
