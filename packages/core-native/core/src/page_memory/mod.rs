//! Page memory: where a page's bytes live, chosen per page among backends.
//!
//! - `heap` (heap.rs): one reference-counted allocation per page, any size;
//! - `arena` (arena.rs): pages of at most `ARENA_PAGE_MAX` bytes packed into
//!   shared chunks, so that sibling pages sit together in cache and a million
//!   small pages cost their bytes, not an allocation each;
//! - `mapped` (mapped.rs): a file in a private directory that another process
//!   (the ZeroMQ bridge, Julia) can map for zero-copy bulk bytes.
//!
//! A `device` backend (CUDA) has its place reserved: `MemoryKind` value 3, a
//! `Repr` variant, and a `Backend` implementation in `Memory::backend`. It
//! would pair with the `gpu` and `unified` locations, which are refused today.
//!
//! The backend is not state: epochs, delta records, checkpoint data and the
//! state hash see only bytes. Which backend a page uses is still logged (in
//! create records and page-move records) and checkpointed, so that recovery
//! puts every page back where it was.
//!
//! Invariants, for every backend:
//! - The length is fixed at allocation, and the bytes are zero then.
//! - Only the owning `State`, through `&mut`, writes the bytes. Views exported
//!   to JavaScript read them on the same thread between calls into the core,
//!   so a write and a read never overlap in time.
//! - A view keeps the bytes it sees alive and never aliases another page's
//!   memory, even after its page is released or moved: a heap allocation is
//!   freed with its last holder; an arena slot whose page exported a view is
//!   never handed out again, and the view holds its chunk; a mapping lives
//!   while a view holds it (the file itself is removed at release).

mod arena;
mod heap;
mod mapped;

use std::cell::UnsafeCell;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::{fail, Result};
use crate::page::PageId;

pub use arena::ARENA_PAGE_MAX;
pub use mapped::{remove_leftovers, Mapping};

use arena::{Arena, Chunk};
use heap::Heap;
use mapped::{MappedFiles, MappedPage};

/// One byte that may be written through a shared reference.
#[repr(transparent)]
pub struct SharedByte(UnsafeCell<u8>);

// Safety: writes go through `PageMemory::bytes_mut`, whose contract gives the
// writer exclusive access for the duration of the write (see module docs).
unsafe impl Sync for SharedByte {}

/// The backend of a page. The numbers are the on-disk encoding (log records
/// and checkpoints); 3 is reserved for a device backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MemoryKind {
    Heap = 0,
    Arena = 1,
    Mapped = 2,
}

impl crate::names::Named for MemoryKind {
    const ALL: &'static [MemoryKind] = &MemoryKind::ALL;
    const WHAT: &'static str = "page memory";

    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl MemoryKind {
    /// Every backend, in encoding order.
    pub const ALL: [MemoryKind; 3] = [MemoryKind::Heap, MemoryKind::Arena, MemoryKind::Mapped];

    pub fn parse(name: &str) -> Result<MemoryKind> {
        crate::names::parse(name, crate::ErrorCode::InvalidArgument)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            MemoryKind::Heap => "heap",
            MemoryKind::Arena => "arena",
            MemoryKind::Mapped => "mapped",
        }
    }

    pub fn from_u8(value: u8) -> Option<MemoryKind> {
        MemoryKind::ALL.get(usize::from(value)).copied()
    }

    /// The backend of a page created alone: its own allocation, freed
    /// exactly at release, whatever views of other pages do.
    pub fn default_for_page(_size: u64) -> MemoryKind {
        MemoryKind::Heap
    }

    /// The backend of pages created in bulk: small ones go to the arena,
    /// where siblings share cache lines and cost no allocation each.
    pub fn default_for_pages(size: u64) -> MemoryKind {
        if size <= ARENA_PAGE_MAX {
            MemoryKind::Arena
        } else {
            MemoryKind::Heap
        }
    }

    /// Refuses a page this backend cannot hold (`MEMORY_UNSUITABLE`).
    pub fn check_fits(self, size: u64) -> Result<()> {
        if self == MemoryKind::Arena && size > ARENA_PAGE_MAX {
            return fail!(
                MemoryUnsuitable,
                "arena memory holds pages of at most {ARENA_PAGE_MAX} bytes, not {size}"
            );
        }
        Ok(())
    }
}

/// Where a state's mapped pages keep their files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemoryConfig {
    /// A private directory of the system's temp directory, made on the first
    /// mapped page and removed with the state (in-memory buses, time travel).
    Private,
    /// `<data dir>/pages/`: the live state of a data directory.
    Directory(PathBuf),
}

/// A backend: gives out zeroed memory for a page and takes it back.
pub(crate) trait Backend {
    /// `size` zeroed bytes for page `id` (`size` fits the backend: `MemoryKind::check_fits`).
    fn allocate(&mut self, id: PageId, size: usize) -> Result<PageMemory>;

    /// Takes back the memory of a released or moved page.
    fn free(&mut self, memory: PageMemory) {
        drop(memory);
    }
}

/// The page memory of one state: its backends.
pub struct Memory {
    heap: Heap,
    arena: Arena,
    mapped: MappedFiles,
}

impl Memory {
    pub fn new(config: &MemoryConfig) -> Memory {
        Memory {
            heap: Heap,
            arena: Arena::default(),
            mapped: MappedFiles::new(config),
        }
    }

    fn backend(&mut self, kind: MemoryKind) -> &mut dyn Backend {
        match kind {
            MemoryKind::Heap => &mut self.heap,
            MemoryKind::Arena => &mut self.arena,
            MemoryKind::Mapped => &mut self.mapped,
        }
    }

    /// Zeroed memory of `size` bytes for page `id` in backend `kind`.
    pub fn allocate(&mut self, kind: MemoryKind, id: PageId, size: u64) -> Result<PageMemory> {
        kind.check_fits(size)?;
        self.backend(kind).allocate(id, size as usize)
    }

    /// Takes back the memory of a released or moved page.
    pub fn free(&mut self, memory: PageMemory) {
        self.backend(memory.kind()).free(memory);
    }

    /// The bytes of `memory` for a zero-copy view. An arena slot that exported
    /// a view is never handed out again.
    pub fn export_view(&mut self, memory: &PageMemory) -> ViewBytes {
        if let Repr::Arena { chunk, offset, .. } = &memory.0 {
            self.arena.mark_exported(chunk, *offset);
        }
        memory.view()
    }

    /// Chunks the arena holds (for tests of its reuse rules).
    pub fn arena_chunks(&self) -> usize {
        self.arena.chunk_count()
    }
}

/// The bytes of one page, in one backend. Owned by the page; views share
/// them through `ViewBytes`.
pub struct PageMemory(Repr);

/// Each variant fits 15 bytes after the tag, so a page stays 32 bytes.
enum Repr {
    /// The data of an `Arc<[SharedByte]>` of `len` bytes, held as a thin
    /// pointer (the `Arc` is rebuilt to clone or drop it).
    Heap {
        first: NonNull<SharedByte>,
        len: u32,
    },
    /// `len` bytes at `offset` of a chunk.
    Arena {
        chunk: Arc<Chunk>,
        offset: u32,
        len: u16,
    },
    Mapped(Box<MappedPage>),
}

// Safety: a `PageMemory` owns a reference count, like the `Arc`s it stands
// for; its bytes are written only through `&mut self`.
unsafe impl Send for PageMemory {}
unsafe impl Sync for PageMemory {}

const _: () = assert!(std::mem::size_of::<PageMemory>() == 16);

impl PageMemory {
    pub fn kind(&self) -> MemoryKind {
        match self.0 {
            Repr::Heap { .. } => MemoryKind::Heap,
            Repr::Arena { .. } => MemoryKind::Arena,
            Repr::Mapped(_) => MemoryKind::Mapped,
        }
    }

    fn first_and_len(&self) -> (*mut u8, usize) {
        match &self.0 {
            Repr::Heap { first, len } => (UnsafeCell::raw_get(first.as_ptr().cast()), *len as usize),
            Repr::Arena { chunk, offset, len } => (chunk.byte_at(*offset as usize), usize::from(*len)),
            Repr::Mapped(page) => (page.mapping.first(), page.mapping.len()),
        }
    }

    pub fn len(&self) -> usize {
        self.first_and_len().1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        let (first, len) = self.first_and_len();
        // Safety: the bytes live as long as `self`; no write runs while the
        // returned borrow of `self` lives, because writes need `&mut self`.
        unsafe { std::slice::from_raw_parts(first, len) }
    }

    /// The bytes for writing. Views of this memory see the write; that is
    /// what makes them live views rather than snapshots.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let (first, len) = self.first_and_len();
        // Safety: `&mut self` is the only writer (module invariants); the
        // cells make the shared aliasing of views legal.
        unsafe { std::slice::from_raw_parts_mut(first, len) }
    }

    /// The file behind a mapped page.
    pub fn mapped_path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Mapped(page) => Some(&page.path),
            _ => None,
        }
    }

    fn view(&self) -> ViewBytes {
        let (first, len) = self.first_and_len();
        let owner = match &self.0 {
            Repr::Heap { first, len } => Owner::Heap {
                _keep: heap::share(*first, *len),
            },
            Repr::Arena { chunk, .. } => Owner::Arena {
                _keep: Arc::clone(chunk),
            },
            Repr::Mapped(page) => Owner::Mapped {
                _keep: Arc::clone(&page.mapping),
            },
        };
        ViewBytes {
            first,
            len,
            _owner: owner,
        }
    }
}

impl Drop for PageMemory {
    fn drop(&mut self) {
        if let Repr::Heap { first, len } = self.0 {
            // Safety: the pointer and length came from `heap::into_raw` and
            // this memory holds one of the allocation's references.
            unsafe { heap::release(first, len) }
        }
    }
}

/// What a zero-copy view holds: the bytes' address and length, and a
/// reference that keeps them alive until the view is dropped.
pub struct ViewBytes {
    first: *mut u8,
    len: usize,
    _owner: Owner,
}

/// A reference held only for what dropping it does.
enum Owner {
    Heap { _keep: Arc<[SharedByte]> },
    Arena { _keep: Arc<Chunk> },
    Mapped { _keep: Arc<Mapping> },
}

impl ViewBytes {
    /// The first byte; valid while `self` lives.
    pub fn as_ptr(&self) -> *mut u8 {
        self.first
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        // Safety: `_owner` keeps the bytes alive while `self` lives.
        unsafe { std::slice::from_raw_parts(self.first, self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_entry_stays_small() {
        assert_eq!(std::mem::size_of::<Option<PageMemory>>(), 16);
    }

    #[test]
    fn names_and_encodings_round_trip() {
        for kind in MemoryKind::ALL {
            assert_eq!(MemoryKind::parse(kind.as_str()).unwrap(), kind);
            assert_eq!(MemoryKind::from_u8(kind as u8), Some(kind));
        }
        assert_eq!(MemoryKind::from_u8(3), None);
        assert_eq!(
            MemoryKind::parse("device").unwrap_err().code,
            crate::ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn every_backend_gives_zeroed_writable_memory() {
        let mut memory = Memory::new(&MemoryConfig::Private);
        for kind in MemoryKind::ALL {
            let mut page = memory.allocate(kind, 1, 100).unwrap();
            assert_eq!(page.kind(), kind);
            assert_eq!(page.as_slice(), &[0u8; 100][..]);
            page.bytes_mut()[99] = 7;
            let view = memory.export_view(&page);
            assert_eq!(view.as_slice()[99], 7);
            memory.free(page);
            assert_eq!(view.as_slice()[99], 7, "{kind:?}: the view keeps the bytes");
        }
    }
}
