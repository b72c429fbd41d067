//! Page memory: where a page's bytes live, chosen per page among backends.
//!
//! - `heap` (heap.rs): one reference-counted allocation per page, any size;
//! - `arena` (arena.rs): pages of at most `ARENA_PAGE_MAX` bytes packed into
//!   shared chunks, so that sibling pages sit together in cache and a million
//!   small pages cost their bytes, not an allocation each;
//! - `mapped` (mapped.rs): a file in a private directory that another process
//!   (the ZeroMQ bridge, Julia) can map for zero-copy bulk bytes;
//! - `device` and `managed` (device.rs): GPU memory with a pinned host mirror,
//!   and CUDA managed memory; the defaults of `gpu` and `unified` pages. CUDA
//!   is loaded at run time: without it these give `CUDA_UNAVAILABLE`, or,
//!   where the process opted in (`set_cuda_fallback`), heap memory.
//!
//! A page's location (`cpu`, `gpu`, `unified`) is what its creator asked for
//! and is state; its memory is where its bytes are now and may change (moves,
//! eviction), like any backend. Device pages are on one device, chosen at
//! allocation (`Memory::set_device`) and changed by `move_to_device`; the
//! ordinal is not logged: recovery puts device pages on the current device.
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
mod device;
mod heap;
mod mapped;

use std::cell::UnsafeCell;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{fail, Result};
use crate::page::PageId;

pub use arena::ARENA_PAGE_MAX;
pub use device::Residency;
pub use mapped::{remove_leftovers, Mapping};

use crate::cuda;
use crate::delta::{apply_payload, Payload};
use crate::page::Location;
use arena::{Arena, Chunk};
use device::{DevicePage, ManagedPage};
use heap::Heap;
use mapped::{MappedFiles, MappedPage};

/// One byte that may be written through a shared reference.
#[repr(transparent)]
pub struct SharedByte(UnsafeCell<u8>);

// Safety: writes go through `PageMemory::bytes_mut`, whose contract gives the
// writer exclusive access for the duration of the write (see module docs).
unsafe impl Sync for SharedByte {}

/// The backend of a page. The numbers are the on-disk encoding (log records
/// and checkpoints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MemoryKind {
    Heap = 0,
    Arena = 1,
    Mapped = 2,
    /// GPU memory with a pinned host mirror (page_memory/device.rs).
    Device = 3,
    /// CUDA managed memory, addressed by host and device.
    Managed = 4,
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
    pub const ALL: [MemoryKind; 5] = [
        MemoryKind::Heap,
        MemoryKind::Arena,
        MemoryKind::Mapped,
        MemoryKind::Device,
        MemoryKind::Managed,
    ];

    /// The backends in host memory, which need no CUDA.
    pub const HOST: [MemoryKind; 3] = [MemoryKind::Heap, MemoryKind::Arena, MemoryKind::Mapped];

    pub fn parse(name: &str) -> Result<MemoryKind> {
        crate::names::parse(name, crate::ErrorCode::InvalidArgument)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            MemoryKind::Heap => "heap",
            MemoryKind::Arena => "arena",
            MemoryKind::Mapped => "mapped",
            MemoryKind::Device => "device",
            MemoryKind::Managed => "managed",
        }
    }

    pub fn from_u8(value: u8) -> Option<MemoryKind> {
        MemoryKind::ALL.get(usize::from(value)).copied()
    }

    /// Whether this backend's bytes are CUDA memory.
    pub const fn is_cuda(self) -> bool {
        matches!(self, MemoryKind::Device | MemoryKind::Managed)
    }

    /// The backend of a page created alone: `device` for a `gpu` page,
    /// `managed` for a `unified` one, else its own heap allocation, freed
    /// exactly at release, whatever views of other pages do.
    pub fn default_for_page(location: Location, _size: u64) -> MemoryKind {
        match location {
            Location::Cpu => MemoryKind::Heap,
            Location::Gpu => MemoryKind::Device,
            Location::Unified => MemoryKind::Managed,
        }
    }

    /// The backend of pages created in bulk: as for one page, except that
    /// small `cpu` pages go to the arena, where siblings share cache lines
    /// and cost no allocation each.
    pub fn default_for_pages(location: Location, size: u64) -> MemoryKind {
        match location {
            Location::Cpu if size <= ARENA_PAGE_MAX => MemoryKind::Arena,
            _ => MemoryKind::default_for_page(location, size),
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
    cuda: CudaChoice,
    /// Live device and managed pages: without any, no write needs preparing.
    cuda_pages: usize,
}

/// Where CUDA allocations go.
#[derive(Default)]
struct CudaChoice {
    /// The device of new device and managed pages.
    ordinal: u32,
}

/// Without CUDA, give heap memory instead of `CUDA_UNAVAILABLE`. Process-wide,
/// as CUDA's presence is: it also governs pages that recovery puts back.
static CUDA_FALLBACK: AtomicBool = AtomicBool::new(false);
/// Pages that got heap memory for want of CUDA, in this process.
static CUDA_FALLBACKS: AtomicU64 = AtomicU64::new(0);

/// Without CUDA, give device and managed pages heap memory (true) or refuse
/// them with `CUDA_UNAVAILABLE` (false, the default). Process-wide.
pub fn set_cuda_fallback(fallback: bool) {
    CUDA_FALLBACK.store(fallback, Ordering::Relaxed);
}

/// Pages that got heap memory because CUDA was unavailable, in this process.
pub fn cuda_fallbacks() -> u64 {
    CUDA_FALLBACKS.load(Ordering::Relaxed)
}

impl Memory {
    pub fn new(config: &MemoryConfig) -> Memory {
        Memory {
            heap: Heap,
            arena: Arena::default(),
            mapped: MappedFiles::new(config),
            cuda: CudaChoice::default(),
            cuda_pages: 0,
        }
    }

    /// Whether any page lives in device or managed memory.
    pub fn has_cuda_pages(&self) -> bool {
        self.cuda_pages > 0
    }

    fn backend(&mut self, kind: MemoryKind) -> &mut dyn Backend {
        match kind {
            // CUDA memory is allocated in `allocate` and frees itself when
            // dropped, as heap memory does.
            MemoryKind::Heap | MemoryKind::Device | MemoryKind::Managed => &mut self.heap,
            MemoryKind::Arena => &mut self.arena,
            MemoryKind::Mapped => &mut self.mapped,
        }
    }

    /// Zeroed memory of `size` bytes for page `id` in backend `kind`.
    pub fn allocate(&mut self, kind: MemoryKind, id: PageId, size: u64) -> Result<PageMemory> {
        kind.check_fits(size)?;
        if !kind.is_cuda() {
            return self.backend(kind).allocate(id, size as usize);
        }
        let device = match cuda::device(self.cuda.ordinal) {
            Ok(device) => device,
            Err(error) if error.code == crate::ErrorCode::CudaUnavailable && CUDA_FALLBACK.load(Ordering::Relaxed) => {
                CUDA_FALLBACKS.fetch_add(1, Ordering::Relaxed);
                return self.heap.allocate(id, size as usize);
            }
            Err(error) => return Err(error),
        };
        let memory = PageMemory(match kind {
            MemoryKind::Device => Repr::Device(Box::new(DevicePage::new(device, size as usize)?)),
            _ => Repr::Managed(Arc::new(ManagedPage::new(device, size as usize)?)),
        });
        self.cuda_pages += 1;
        Ok(memory)
    }

    /// Memory for each `(kind, id, bytes)` holding a copy of `bytes` (a
    /// mapped checkpoint's), with the CRC32C of `bytes`, in order. Device
    /// pages are copied to the device in one pass by several threads through
    /// pinned slots; the others one by one.
    pub fn restore_many(&mut self, pages: &[(MemoryKind, PageId, &[u8])]) -> Result<Vec<(PageMemory, u32)>> {
        let to_device: Vec<&[u8]> = pages
            .iter()
            .filter(|(kind, ..)| *kind == MemoryKind::Device)
            .map(|(.., bytes)| *bytes)
            .collect();
        let mut restored = match cuda::device(self.cuda.ordinal) {
            Ok(device) if !to_device.is_empty() => DevicePage::restore_many(&device, &to_device)?.into_iter(),
            _ => Vec::new().into_iter(),
        };
        let mut memories = Vec::with_capacity(pages.len());
        for &(kind, id, bytes) in pages {
            if kind == MemoryKind::Device {
                if let Some((page, crc)) = restored.next() {
                    self.cuda_pages += 1;
                    memories.push((PageMemory(Repr::Device(Box::new(page))), crc));
                    continue;
                }
            }
            let mut memory = self.allocate(kind, id, bytes.len() as u64)?;
            memory.bytes_mut().copy_from_slice(bytes);
            memories.push((memory, crc32c::crc32c(bytes)));
        }
        Ok(memories)
    }

    /// Takes back the memory of a released or moved page.
    pub fn free(&mut self, memory: PageMemory) {
        if memory.kind().is_cuda() {
            self.cuda_pages -= 1;
        }
        self.backend(memory.kind()).free(memory);
    }

    /// The bytes of `memory` for a zero-copy view. An arena slot that exported
    /// a view is never handed out again. A `device` page has no host bytes
    /// that deltas keep current, so it has no view (`MEMORY_UNSUITABLE`).
    pub fn export_view(&mut self, memory: &PageMemory) -> Result<ViewBytes> {
        let Some(view) = memory.view() else {
            return fail!(
                MemoryUnsuitable,
                "a page in device memory has no live host view: read it, or move it to managed or host memory"
            );
        };
        if let Repr::Arena { chunk, offset, .. } = &memory.0 {
            self.arena.mark_exported(chunk, *offset);
        }
        Ok(view)
    }

    /// The CUDA device that new device and managed pages go to (`DEVICE_NOT_FOUND`
    /// for an ordinal no device has; `CUDA_UNAVAILABLE` without CUDA).
    pub fn set_device(&mut self, ordinal: u32) -> Result<()> {
        cuda::device(ordinal)?;
        self.cuda.ordinal = ordinal;
        Ok(())
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
    Device(Box<DevicePage>),
    Managed(Arc<ManagedPage>),
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
            Repr::Device(_) => MemoryKind::Device,
            Repr::Managed(_) => MemoryKind::Managed,
        }
    }

    /// The host address of the bytes, current. A device page's bytes are
    /// copied into its pinned mirror first if only the device had them; a
    /// device that fails that copy is lost, and the bytes with it.
    fn first_and_len(&self) -> (*mut u8, usize) {
        match &self.0 {
            Repr::Heap { first, len } => (UnsafeCell::raw_get(first.as_ptr().cast()), *len as usize),
            Repr::Arena { chunk, offset, len } => (chunk.byte_at(*offset as usize), usize::from(*len)),
            Repr::Mapped(page) => (page.mapping.first(), page.mapping.len()),
            Repr::Device(page) => (
                page.host_bytes().expect("reading a device page to the host"),
                page.len(),
            ),
            Repr::Managed(page) => (page.first(), page.len()),
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Device(page) => page.len(),
            _ => self.first_and_len().1,
        }
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
    /// what makes them live views rather than snapshots. A device page's
    /// mirror is written, and its device copy is stale until the next upload.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let (first, len) = match &mut self.0 {
            Repr::Device(page) => (
                page.host_bytes_mut().expect("reading a device page to the host"),
                page.len(),
            ),
            _ => self.first_and_len(),
        };
        // Safety: `&mut self` is the only writer (module invariants); the
        // cells make the shared aliasing of views legal.
        unsafe { std::slice::from_raw_parts_mut(first, len) }
    }

    /// Allocates what applying `payload` needs (device pages: a current
    /// device copy, the payload's scratch); nothing for host memory. A delta
    /// calls it before its change is logged, `apply` after.
    pub fn prepare_write(&mut self, payload: &Payload<&[u8]>) -> Result<()> {
        match &mut self.0 {
            Repr::Device(page) => page.prepare_write(payload),
            Repr::Managed(page) => page.prepare_write(payload),
            _ => Ok(()),
        }
    }

    /// Applies a validated payload: by the device's kernels for CUDA memory
    /// (`DEVICE_FAILED` if the device fails), else on the host.
    pub fn apply(&mut self, payload: &Payload<&[u8]>) -> Result<()> {
        match &mut self.0 {
            Repr::Device(page) => page.apply(payload),
            Repr::Managed(page) => page.apply(payload),
            _ => {
                apply_payload(self.bytes_mut(), payload);
                Ok(())
            }
        }
    }

    /// The CUDA device of a device or managed page.
    pub fn device_ordinal(&self) -> Option<u32> {
        match &self.0 {
            Repr::Device(page) => Some(page.ordinal()),
            Repr::Managed(page) => Some(page.ordinal()),
            _ => None,
        }
    }

    /// Which copies of a device page are current (`None` for other memory).
    pub fn residency(&self) -> Option<Residency> {
        match &self.0 {
            Repr::Device(page) => Some(page.residency()),
            _ => None,
        }
    }

    /// Device memory the page holds now (0 for an evicted device page and for host memory).
    pub fn device_bytes(&self) -> usize {
        match &self.0 {
            Repr::Device(page) => page.device_bytes(),
            Repr::Managed(page) => page.len(),
            _ => 0,
        }
    }

    /// Makes the page's device copy current (a managed page migrates to its device).
    pub fn prefetch(&mut self) -> Result<()> {
        match &mut self.0 {
            Repr::Device(page) => page.prefetch(),
            Repr::Managed(page) => page.prefetch(true),
            _ => not_cuda(),
        }
    }

    /// Frees a device page's device copy (its mirror keeps the bytes); a
    /// managed page migrates to the host.
    pub fn evict(&mut self) -> Result<()> {
        match &mut self.0 {
            Repr::Device(page) => page.evict(),
            Repr::Managed(page) => page.prefetch(false),
            _ => not_cuda(),
        }
    }

    /// Moves a device page to device `ordinal` (peer to peer when current on
    /// the device). Managed memory needs no move: any device addresses it.
    pub fn move_to_device(&mut self, ordinal: u32) -> Result<()> {
        match &mut self.0 {
            Repr::Device(page) => page.move_to(cuda::device(ordinal)?),
            _ => fail!(MemoryUnsuitable, "only a page in device memory moves between devices"),
        }
    }

    /// The device address of the page's current bytes, for zero-copy export.
    pub fn device_ptr(&mut self) -> Result<u64> {
        match &mut self.0 {
            Repr::Device(page) => page.device_ptr(),
            Repr::Managed(page) => Ok(page.device_ptr()),
            _ => not_cuda(),
        }
    }

    /// A CUDA IPC handle of a device page's current bytes, which another
    /// process on this machine opens as a mapping of the same memory
    /// (`cuIpcOpenMemHandle`, CuPy's `ipcOpenMemHandle`).
    pub fn ipc_handle(&mut self) -> Result<[u8; 64]> {
        match &mut self.0 {
            Repr::Device(page) => page.ipc_handle(),
            Repr::Managed(_) => fail!(
                MemoryUnsuitable,
                "a page in managed (unified) memory cannot be opened by another process \
                 (CUDA IPC covers device memory only): move it to device memory first"
            ),
            _ => not_cuda(),
        }
    }

    /// The file behind a mapped page.
    pub fn mapped_path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Mapped(page) => Some(&page.path),
            _ => None,
        }
    }

    /// A view of the bytes; none for a device page, whose host mirror
    /// deltas do not keep current.
    fn view(&self) -> Option<ViewBytes> {
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
            Repr::Managed(page) => Owner::Managed {
                _keep: Arc::clone(page),
            },
            Repr::Device(_) => return None,
        };
        let (first, len) = self.first_and_len();
        Some(ViewBytes {
            first,
            len,
            _owner: owner,
        })
    }
}

fn not_cuda<T>() -> Result<T> {
    fail!(
        MemoryUnsuitable,
        "the page is in host memory, not device or managed memory"
    )
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
    Managed { _keep: Arc<ManagedPage> },
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
        assert_eq!(MemoryKind::from_u8(5), None);
        assert_eq!(
            MemoryKind::parse("gpu").unwrap_err().code,
            crate::ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn every_backend_gives_zeroed_writable_memory() {
        let mut memory = Memory::new(&MemoryConfig::Private);
        for kind in MemoryKind::HOST {
            let mut page = memory.allocate(kind, 1, 100).unwrap();
            assert_eq!(page.kind(), kind);
            assert_eq!(page.as_slice(), &[0u8; 100][..]);
            page.bytes_mut()[99] = 7;
            let view = memory.export_view(&page).unwrap();
            assert_eq!(view.as_slice()[99], 7);
            memory.free(page);
            assert_eq!(view.as_slice()[99], 7, "{kind:?}: the view keeps the bytes");
        }
    }
}
