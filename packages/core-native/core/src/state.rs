//! The state machine: every change to pages goes through here.
//!
//! Each mutation validates completely, then calls `before_change` (where the
//! durable store appends the log record), and only if that succeeds changes
//! anything. So an error, from validation or from the log, leaves the state
//! (and its hash) exactly as it was. Replaying the logged changes through
//! `apply_change` rebuilds the state byte for byte.

use std::borrow::Borrow;

use crate::delta::encoding::EncodedBatch;
use crate::delta::{Delta, Payload};
use crate::error::{fail, Error, ErrorCode, Result};
use crate::graph::{Edge, Graph};
use crate::id_map::IdMap;
use crate::log::body::Change;
use crate::metadata::{validate_entry, Metadata};
use crate::page::{validate_size, Location, Page, PageId};
use crate::page_memory::{Memory, MemoryConfig, MemoryKind, ViewBytes};
use crate::page_table::PageTable;
use crate::propagation::propagated;
use crate::state_hash::{hash_state, StateHash};

/// The most pages one `create_pages` call makes.
pub const CREATE_PAGES_MAX: u64 = 1 << 24;

/// Runs after validation and before the change; an error cancels the change.
pub trait BeforeChange: FnOnce() -> Result<()> {}
impl<F: FnOnce() -> Result<()>> BeforeChange for F {}

/// For callers with nothing to do before a change (in-memory use, tests).
pub fn nothing() -> Result<()> {
    Ok(())
}

/// The pages, their graph, and the page memory their bytes live in.
pub struct State {
    // Declared before `memory`, so that pages (and their mapped files) go first.
    pages: PageTable,
    graph: Graph,
    memory: Memory,
    /// A write that failed after its change was logged (a failing device):
    /// the pages no longer match the log, so every later change is refused
    /// with it; reopening rebuilds the pages from the log.
    failure: Option<Error>,
}

impl Default for State {
    fn default() -> State {
        State::with_memory(&MemoryConfig::Private)
    }
}

impl State {
    /// An empty state whose mapped pages live in a private temp directory.
    pub fn new() -> State {
        State::default()
    }

    /// An empty state whose page memory follows `config`.
    pub fn with_memory(config: &MemoryConfig) -> State {
        State {
            pages: PageTable::default(),
            graph: Graph::default(),
            memory: Memory::new(config),
            failure: None,
        }
    }

    /// Rebuilds a state from its pages (in id order, their bytes in `memory`),
    /// next id and graph, as a checkpoint holds them.
    pub(crate) fn restore(pages: Vec<(PageId, Page)>, next_page_id: PageId, graph: Graph, memory: Memory) -> State {
        State {
            pages: PageTable::restore(pages, next_page_id),
            graph,
            memory,
            failure: None,
        }
    }

    /// Creates a zeroed page in the default memory for one page and returns its id.
    pub fn create_page(
        &mut self,
        size: u64,
        location: Location,
        metadata: &[(&str, &[u8])],
        before_change: impl BeforeChange,
    ) -> Result<PageId> {
        let memory = MemoryKind::default_for_page(location, size);
        self.create_page_in(memory, size, location, metadata, before_change)
    }

    /// Creates a zeroed page in `memory` and returns its id. The memory is
    /// allocated before `before_change`, so a backend that fails (a mapped
    /// file on a full disk) leaves no record behind.
    pub fn create_page_in(
        &mut self,
        memory: MemoryKind,
        size: u64,
        location: Location,
        metadata: &[(&str, &[u8])],
        before_change: impl BeforeChange,
    ) -> Result<PageId> {
        self.sound()?;
        validate_size(size)?;
        memory.check_fits(size)?;
        let mut map = Metadata::default();
        for (key, value) in metadata {
            validate_entry(key, Some(value))?;
        }
        for (key, value) in metadata {
            map.set(key, Some(value))?;
        }
        let data = self.memory.allocate(memory, self.pages.next_page_id(), size)?;
        if let Err(error) = before_change() {
            self.memory.free(data);
            return Err(error);
        }
        Ok(self.pages.insert(Page::new(data, 0, location, map)))
    }

    /// Creates `count` zeroed pages of one size in the default memory for
    /// pages made in bulk; returns the first id (the rest follow consecutively).
    pub fn create_pages(
        &mut self,
        count: u64,
        size: u64,
        location: Location,
        before_change: impl BeforeChange,
    ) -> Result<PageId> {
        self.create_pages_in(
            MemoryKind::default_for_pages(location, size),
            count,
            size,
            location,
            before_change,
        )
    }

    /// Creates `count` zeroed pages of one size in `memory`; returns the first id.
    pub fn create_pages_in(
        &mut self,
        memory: MemoryKind,
        count: u64,
        size: u64,
        location: Location,
        before_change: impl BeforeChange,
    ) -> Result<PageId> {
        self.sound()?;
        if count == 0 || count > CREATE_PAGES_MAX {
            return fail!(InvalidArgument, "page count {count} is outside 1..={CREATE_PAGES_MAX}");
        }
        validate_size(size)?;
        memory.check_fits(size)?;
        let first = self.pages.next_page_id();
        let mut allocated = Vec::with_capacity(count as usize);
        for id in first..first + count {
            match self.memory.allocate(memory, id, size) {
                Ok(data) => allocated.push(data),
                Err(error) => {
                    allocated.into_iter().for_each(|data| self.memory.free(data));
                    return Err(error);
                }
            }
        }
        if let Err(error) = before_change() {
            allocated.into_iter().for_each(|data| self.memory.free(data));
            return Err(error);
        }
        for data in allocated {
            self.pages.insert(Page::new(data, 0, location, Metadata::default()));
        }
        Ok(first)
    }

    /// Moves a page's bytes to another backend; its bytes, epoch and every
    /// other part of the state stay as they are. Returns false, changing
    /// nothing and calling nothing, when the page is in `memory` already.
    /// Views of the page keep the bytes they had (they no longer see deltas).
    pub fn move_page(&mut self, id: PageId, memory: MemoryKind, before_change: impl BeforeChange) -> Result<bool> {
        self.sound()?;
        let page = self.pages.get(id)?;
        if page.memory() == memory {
            return Ok(false);
        }
        memory.check_fits(page.size())?;
        let mut data = self.memory.allocate(memory, id, page.size())?;
        data.bytes_mut().copy_from_slice(page.data());
        if let Err(error) = before_change() {
            self.memory.free(data);
            return Err(error);
        }
        let page = self.pages.get_mut(id).expect("looked up above");
        let old = std::mem::replace(&mut page.data, data);
        self.memory.free(old);
        Ok(true)
    }

    /// Releases a page and its edges. Its id stays taken; views of it keep their memory.
    pub fn release_page(&mut self, id: PageId, before_change: impl BeforeChange) -> Result<()> {
        self.sound()?;
        self.pages.get(id)?;
        before_change()?;
        self.graph.remove_page(id);
        let page = self.pages.remove(id)?;
        self.memory.free(page.data);
        Ok(())
    }

    /// The bytes of a page for a zero-copy view, kept alive by the result
    /// (page_memory/ has the rules that keep views from aliasing).
    pub fn export_view(&mut self, id: PageId) -> Result<ViewBytes> {
        let page = self.pages.get(id)?;
        self.memory.export_view(&page.data)
    }

    /// The page memory (for tests and statistics).
    pub fn page_memory(&self) -> &Memory {
        &self.memory
    }

    /// The page memory, for its settings (`set_device`).
    pub fn page_memory_mut(&mut self) -> &mut Memory {
        &mut self.memory
    }

    /// A page's memory for residency changes that are not state (prefetch,
    /// evict, a move between devices): its bytes, epoch and hash stay.
    pub fn page_memory_of(&mut self, id: PageId) -> Result<&mut crate::page_memory::PageMemory> {
        Ok(&mut self.pages.get_mut(id)?.data)
    }

    /// Blocks of the page table (for tests of its memory bound).
    pub fn page_table_blocks(&self) -> usize {
        self.pages.block_count()
    }

    /// Adds the edge `parent → child` between live pages; refuses a cycle.
    pub fn add_edge(&mut self, edge: Edge, before_change: impl BeforeChange) -> Result<()> {
        self.sound()?;
        self.pages.get(edge.parent)?;
        self.pages.get(edge.child)?;
        self.graph.check_add(edge.parent, edge.child)?;
        before_change()?;
        self.graph.add(edge);
        Ok(())
    }

    pub fn remove_edge(&mut self, parent: PageId, child: PageId, before_change: impl BeforeChange) -> Result<()> {
        self.sound()?;
        self.pages.get(parent)?;
        self.pages.get(child)?;
        self.graph.check_remove(parent, child)?;
        before_change()?;
        self.graph.remove(parent, child);
        Ok(())
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn page(&self, id: PageId) -> Result<&Page> {
        self.pages.get(id)
    }

    /// Borrows `len` bytes of a page from `offset`.
    pub fn read(&self, id: PageId, offset: u64, len: u64) -> Result<&[u8]> {
        let page = self.pages.get(id)?;
        let size = page.size();
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(&page.data()[offset as usize..end as usize]),
            _ => fail!(
                RangeOutOfBounds,
                "read of {len} bytes at offset {offset} is past the end of page {id} of {size} bytes"
            ),
        }
    }

    /// Sets one metadata entry (`None` removes it).
    pub fn set_metadata(
        &mut self,
        id: PageId,
        key: &str,
        value: Option<&[u8]>,
        before_change: impl BeforeChange,
    ) -> Result<()> {
        self.sound()?;
        self.pages.get(id)?;
        validate_entry(key, value)?;
        before_change()?;
        self.pages.get_mut(id)?.set_metadata(key, value)
    }

    /// Applies one delta; returns the page's new epoch.
    pub fn apply<B: AsRef<[u8]>>(&mut self, delta: &Delta<B>, before_change: impl BeforeChange) -> Result<u64> {
        self.sound()?;
        let page = self.pages.get(delta.page_id)?;
        validate_against(delta, page, page.epoch)?;
        let payload = delta.payload.as_borrowed();
        self.prepare_write(delta.page_id, &payload)?;
        before_change()?;
        self.write_logged(delta.page_id, &payload)
    }

    /// Writes `bytes` over the whole page `id` and returns its new epoch,
    /// without validating or logging: for a wave's outputs after the first,
    /// each already checked against its page, whose record the first output's
    /// `apply` logged.
    pub fn apply_checked_output(&mut self, id: PageId, bytes: &[u8]) -> Result<u64> {
        self.sound()?;
        debug_assert!(
            self.pages.get(id).is_ok_and(|page| page.size() == bytes.len() as u64),
            "a wave output has its page's size"
        );
        self.write_logged(id, &Payload::Dense(bytes))
    }

    /// Allocates what writing each of a wave's outputs needs (device pages),
    /// before the wave's record is logged and `apply_checked_output` writes them.
    pub fn prepare_outputs<'b>(&mut self, mut outputs: impl Iterator<Item = (PageId, &'b [u8])>) -> Result<()> {
        self.sound()?;
        if !self.memory.has_cuda_pages() {
            return Ok(());
        }
        outputs.try_for_each(|(id, bytes)| self.prepare_write(id, &Payload::Dense(bytes)))
    }

    /// Allocates what writing `payload` to page `id` needs (page_memory's
    /// `prepare_write`): called before the change is logged.
    fn prepare_write(&mut self, id: PageId, payload: &Payload<&[u8]>) -> Result<()> {
        if !self.memory.has_cuda_pages() {
            return Ok(());
        }
        self.pages.get_mut(id)?.data.prepare_write(payload)
    }

    /// Applies deltas in order, all or none: every delta is validated against
    /// the state that the deltas before it would produce, then all are applied.
    pub fn apply_batch<B: AsRef<[u8]>>(&mut self, deltas: &[Delta<B>], before_change: impl BeforeChange) -> Result<()> {
        let expects_epochs = deltas.iter().any(|delta| delta.expect_epoch.is_some());
        self.apply_deltas(|| deltas.iter(), expects_epochs, before_change)
    }

    /// Applies an encoded batch as `apply_batch` applies its deltas, decoding
    /// them once to check them and once to apply them rather than holding
    /// them all (encoding.rs, `EncodedBatch`).
    pub fn apply_encoded_batch(&mut self, batch: &EncodedBatch<'_>, before_change: impl BeforeChange) -> Result<()> {
        self.apply_deltas(|| batch.iter(), batch.expects_epochs(), before_change)
    }

    /// The checks and writes of a batch, over deltas `deltas()` yields anew
    /// for each pass.
    fn apply_deltas<B, D, I>(
        &mut self,
        deltas: impl Fn() -> I,
        expects_epochs: bool,
        before_change: impl BeforeChange,
    ) -> Result<()>
    where
        B: AsRef<[u8]>,
        D: Borrow<Delta<B>>,
        I: Iterator<Item = D>,
    {
        self.sound()?;
        // Only `expectEpoch` depends on the deltas before it; without one, each
        // delta is validated against its page alone and no count is kept.
        let mut applied_before: IdMap<u64> = IdMap::default();
        for (index, delta) in deltas().enumerate() {
            let delta = delta.borrow();
            let earlier = if expects_epochs {
                let count = applied_before.entry(delta.page_id).or_insert(0);
                *count += 1;
                *count - 1
            } else {
                0
            };
            self.pages
                .get(delta.page_id)
                .and_then(|page| validate_against(delta, page, page.epoch + earlier))
                .and_then(|()| self.prepare_write(delta.page_id, &delta.payload.as_borrowed()))
                .map_err(|error| Error::new(error.code, format!("batch delta {index}: {}", error.message)))?;
        }
        before_change()?;
        for delta in deltas() {
            let delta = delta.borrow();
            self.write_logged(delta.page_id, &delta.payload.as_borrowed())?;
        }
        Ok(())
    }

    /// Writes a checked `payload` to page `id` once its change is logged, and
    /// returns the page's new epoch. Only a failing device can fail it, which
    /// `failed_after_logging` keeps.
    fn write_logged(&mut self, id: PageId, payload: &Payload<&[u8]>) -> Result<u64> {
        let page = self.pages.get_mut(id)?;
        match page.data.apply(payload) {
            Ok(()) => {
                page.epoch += 1;
                Ok(page.epoch)
            }
            Err(error) => Err(self.failed_after_logging(error)),
        }
    }

    /// Refuses every change once a write failed after its change was logged:
    /// the pages no longer match the log (nor may a checkpoint be made of them).
    pub fn sound(&self) -> Result<()> {
        match &self.failure {
            Some(failure) => Err(failure.clone()),
            None => Ok(()),
        }
    }

    /// Keeps `error`, of a write after its change was logged, as the reason
    /// every later change is refused.
    pub(crate) fn failed_after_logging(&mut self, error: Error) -> Error {
        let failure = Error::new(
            ErrorCode::DeviceFailed,
            format!(
                "{}: {} (the write failed after its change was committed to the log, so the pages no \
                 longer match it and every later change is refused; a store on a data directory \
                 rebuilds them from the log when reopened)",
                error.code.as_str(),
                error.message
            ),
        );
        self.failure = Some(failure.clone());
        failure
    }

    /// Replays one logged change. A change that does not fit the state (an id
    /// out of order, an invalid delta) means the log is not this state's log.
    pub fn apply_change(&mut self, change: &Change<'_>) -> Result<()> {
        match change {
            Change::PageCreate {
                id,
                size,
                location,
                memory,
                metadata,
            } => {
                expect_next_id(self, *id)?;
                self.create_page_in(*memory, *size, *location, metadata, nothing)
                    .map(drop)
            }
            Change::PagesCreate {
                first_id,
                count,
                size,
                location,
                memory,
            } => {
                expect_next_id(self, *first_id)?;
                self.create_pages_in(*memory, *count, *size, *location, nothing)
                    .map(drop)
            }
            Change::PageMove { id, memory } => self.move_page(*id, *memory, nothing).map(drop),
            Change::PageRelease { id } => self.release_page(*id, nothing),
            Change::Deltas(batch) => self.apply_encoded_batch(batch, nothing),
            Change::Wave(outputs) => self.apply_deltas(
                || outputs.iter().map(|(id, bytes)| propagated(id, bytes)),
                false,
                nothing,
            ),
            // Planted (Cargo.toml): replay drops metadata deletions.
            Change::MetadataSet { value: None, .. } if cfg!(feature = "planted-fuzz-bugs") => Ok(()),
            Change::MetadataSet { id, key, value } => self.set_metadata(*id, key, *value, nothing),
            Change::Checkpoint { .. } => Ok(()),
            Change::EdgeAdd(edge) => self.add_edge(*edge, nothing),
            Change::EdgeRemove { parent, child } => self.remove_edge(*parent, *child, nothing),
        }
    }

    pub fn next_page_id(&self) -> PageId {
        self.pages.next_page_id()
    }

    pub fn live_page_count(&self) -> usize {
        self.pages.live_count()
    }

    /// Live pages in id order.
    pub fn pages(&self) -> impl Iterator<Item = (PageId, &Page)> {
        self.pages.iter()
    }

    pub fn state_hash(&self) -> StateHash {
        hash_state(&self.pages, &self.graph)
    }
}

fn expect_next_id(state: &State, id: PageId) -> Result<()> {
    if id != state.next_page_id() {
        return fail!(
            InvalidArgument,
            "logged page id {id} does not follow the state's next id {}",
            state.next_page_id()
        );
    }
    Ok(())
}

fn validate_against<B: AsRef<[u8]>>(delta: &Delta<B>, page: &Page, epoch: u64) -> Result<()> {
    if let Some(expected) = delta.expect_epoch {
        if expected != epoch {
            return fail!(
                EpochConflict,
                "page {} is at epoch {epoch}, the delta expects epoch {expected}",
                delta.page_id
            );
        }
    }
    delta.payload.validate(delta.page_id, page.size())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::delta::Source;
    use crate::graph::EdgeKind;

    /// A write that failed after its change was logged leaves pages that no
    /// longer match the log: every later change gets that failure, as
    /// `DEVICE_FAILED`, before anything is checked, allocated or logged.
    #[test]
    fn a_write_failed_after_the_log_refuses_every_later_change() {
        let mut state = State::new();
        let first = state.create_page(8, Location::Cpu, &[], nothing).unwrap();
        let second = state.create_page(8, Location::Cpu, &[], nothing).unwrap();
        let failure = state.failed_after_logging(Error::new(
            ErrorCode::DeviceOutOfMemory,
            "cuMemAllocAsync: CUDA_ERROR_OUT_OF_MEMORY",
        ));
        assert_eq!(failure.code, ErrorCode::DeviceFailed);
        assert!(
            failure.message.starts_with("DEVICE_OUT_OF_MEMORY: cuMemAllocAsync"),
            "{}",
            failure.message
        );
        assert_eq!(state.sound(), Err(failure.clone()));

        let logged = Cell::new(0);
        let log = || {
            logged.set(logged.get() + 1);
            Ok(())
        };
        let write = |page_id| Delta {
            page_id,
            payload: Payload::Dense(vec![1u8; 8]),
            source: Source::User,
            expect_epoch: None,
        };
        let edge = Edge {
            parent: first,
            child: second,
            kind: EdgeKind::Data,
        };
        let refused = [
            state.apply(&write(first), log).map(drop),
            // A delta that would fail its own checks gets the failure too.
            state.apply(&write(99), log).map(drop),
            state.apply_batch(&[write(first), write(second)], log),
            state.apply_checked_output(first, &[2; 8]).map(drop),
            state.create_page(8, Location::Cpu, &[], log).map(drop),
            state.create_pages(2, 8, Location::Cpu, log).map(drop),
            state.move_page(first, MemoryKind::Arena, log).map(drop),
            state.set_metadata(first, "name", Some(b"x"), log),
            state.add_edge(edge, log),
            state.remove_edge(first, second, log),
            state.release_page(second, log),
        ];
        for (index, result) in refused.into_iter().enumerate() {
            assert_eq!(result, Err(failure.clone()), "change {index}");
        }
        assert_eq!(logged.get(), 0, "nothing logged");
        assert_eq!(state.page(first).unwrap().data(), &[0u8; 8][..]);
    }
}
