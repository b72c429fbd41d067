//! The arena backend: pages of at most `ARENA_PAGE_MAX` bytes in shared
//! chunks. Each chunk is one anonymous mapping of `CHUNK_BYTES`, cut into
//! slots of one size class (the page size rounded up to 16 bytes, so that
//! views can be read as wider typed arrays). The operating system zeroes a
//! chunk lazily: slots never written cost no resident memory.
//!
//! Reuse rules (the view invariant of mod.rs):
//! - A released page's slot is reused only when no view of it was exported;
//!   it is zeroed when handed out again.
//! - A slot that exported a view is retired: never handed out again. Its
//!   views hold the chunk (`Arc<Chunk>`), so its bytes stay valid after
//!   release and the chunk is unmapped when its last page and view are gone.
//! - A chunk whose pages are all released leaves the arena, unless it is the
//!   only chunk of its class with room and has no retired slot (kept warm, so
//!   that create-release cycles do not map and unmap chunks).

use std::ptr::NonNull;
use std::sync::Arc;

use super::{Backend, PageMemory, Repr};
use crate::error::{Error, ErrorCode, Result};
use crate::id_map::IdMap;
use crate::page::PageId;

/// The largest page the arena holds.
pub const ARENA_PAGE_MAX: u64 = 4096;
const SLOT_ALIGN: usize = 16;
const CHUNK_BYTES: usize = 256 << 10;
const CLASSES: usize = ARENA_PAGE_MAX as usize / SLOT_ALIGN;
const _: () = assert!(ARENA_PAGE_MAX <= u16::MAX as u64 && CHUNK_BYTES <= u32::MAX as usize);

/// One anonymous mapping of `CHUNK_BYTES`, unmapped when the arena and every
/// page and view in it let go of it.
pub struct Chunk {
    first: NonNull<u8>,
    /// Names the chunk in the arena; never reused.
    serial: u64,
}

// Safety: the chunk is plain memory; who writes which bytes when is ruled by
// the page memory invariants (mod.rs).
unsafe impl Send for Chunk {}
unsafe impl Sync for Chunk {}

impl Chunk {
    fn map(serial: u64) -> Result<Chunk> {
        // Safety: an anonymous private mapping has no preconditions.
        let first = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                CHUNK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if first == libc::MAP_FAILED {
            let error = std::io::Error::last_os_error();
            return Err(Error::new(
                ErrorCode::IoError,
                format!("mapping a {CHUNK_BYTES}-byte arena chunk: {error}"),
            ));
        }
        let first = NonNull::new(first.cast::<u8>()).expect("mmap does not return null on success");
        Ok(Chunk { first, serial })
    }

    pub(super) fn byte_at(&self, offset: usize) -> *mut u8 {
        debug_assert!(offset < CHUNK_BYTES);
        // Safety: offsets handed out lie inside the mapping.
        unsafe { self.first.as_ptr().add(offset) }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // Safety: the mapping was made in `map` with this length, and no
        // page or view refers to it any more (they hold the `Arc`).
        unsafe { libc::munmap(self.first.as_ptr().cast(), CHUNK_BYTES) };
    }
}

/// What the arena knows of one chunk.
struct ChunkState {
    chunk: Arc<Chunk>,
    class: usize,
    slot_bytes: u32,
    slots: u32,
    /// Slots from here on were never handed out (and are still zero).
    unused_from: u32,
    /// Released slots that exported no view.
    free: Vec<u32>,
    /// One bit per slot that exported a view; empty until the first export.
    exported: Vec<u64>,
    live: u32,
    retired: u32,
    /// Whether `serial` is in its class's `with_room` list.
    listed: bool,
}

impl ChunkState {
    fn has_room(&self) -> bool {
        !self.free.is_empty() || self.unused_from < self.slots
    }

    fn take(&mut self, size: usize) -> Option<PageMemory> {
        let slot = if let Some(slot) = self.free.pop() {
            let offset = slot as usize * self.slot_bytes as usize;
            // Safety: a free slot belongs to no page and was never viewed.
            unsafe { std::ptr::write_bytes(self.chunk.byte_at(offset), 0, self.slot_bytes as usize) };
            slot
        } else if self.unused_from < self.slots {
            self.unused_from += 1;
            self.unused_from - 1
        } else {
            return None;
        };
        self.live += 1;
        Some(PageMemory(Repr::Arena {
            chunk: Arc::clone(&self.chunk),
            offset: slot * self.slot_bytes,
            len: size as u16,
        }))
    }

    fn is_exported(&self, slot: u32) -> bool {
        let (word, bit) = (slot as usize / 64, slot % 64);
        self.exported.get(word).is_some_and(|bits| bits & (1 << bit) != 0)
    }
}

#[derive(Default)]
pub(super) struct Arena {
    chunks: IdMap<ChunkState>,
    /// Per size class, chunks that may have room, newest last; an entry whose
    /// chunk left the arena or is full is skipped and dropped when met.
    with_room: Vec<Vec<u64>>,
    next_serial: u64,
}

impl Arena {
    pub(super) fn mark_exported(&mut self, chunk: &Chunk, offset: u32) {
        if let Some(state) = self.chunks.get_mut(&chunk.serial) {
            let slot = offset / state.slot_bytes;
            if state.exported.is_empty() {
                state.exported = vec![0; (state.slots as usize).div_ceil(64)];
            }
            state.exported[slot as usize / 64] |= 1 << (slot % 64);
        }
    }

    pub(super) fn chunk_count(&self) -> usize {
        self.chunks.len()
    }
}

impl Backend for Arena {
    fn allocate(&mut self, _id: PageId, size: usize) -> Result<PageMemory> {
        let class = size.div_ceil(SLOT_ALIGN).max(1) - 1;
        if self.with_room.len() < CLASSES {
            self.with_room.resize_with(CLASSES, Vec::new);
        }
        while let Some(&serial) = self.with_room[class].last() {
            if let Some(state) = self.chunks.get_mut(&serial) {
                if let Some(memory) = state.take(size) {
                    if !state.has_room() {
                        state.listed = false;
                        self.with_room[class].pop();
                    }
                    return Ok(memory);
                }
                state.listed = false;
            }
            self.with_room[class].pop();
        }
        let serial = self.next_serial;
        self.next_serial += 1;
        let slot_bytes = ((class + 1) * SLOT_ALIGN) as u32;
        let mut state = ChunkState {
            chunk: Arc::new(Chunk::map(serial)?),
            class,
            slot_bytes,
            slots: CHUNK_BYTES as u32 / slot_bytes,
            unused_from: 0,
            free: Vec::new(),
            exported: Vec::new(),
            live: 0,
            retired: 0,
            listed: false,
        };
        let memory = state.take(size).expect("a new chunk has room");
        if state.has_room() {
            state.listed = true;
            self.with_room[class].push(serial);
        }
        self.chunks.insert(serial, state);
        Ok(memory)
    }

    fn free(&mut self, memory: PageMemory) {
        let Repr::Arena { chunk, offset, .. } = &memory.0 else {
            return;
        };
        let (serial, offset) = (chunk.serial, *offset);
        drop(memory);
        let Some(state) = self.chunks.get_mut(&serial) else {
            return;
        };
        let slot = offset / state.slot_bytes;
        state.live -= 1;
        if state.is_exported(slot) {
            state.retired += 1;
        } else {
            state.free.push(slot);
        }
        let class = state.class;
        if state.live == 0 {
            let retired = state.retired > 0;
            let chunks = &self.chunks;
            let other_has_room = self.with_room[class]
                .iter()
                .any(|&other| other != serial && chunks.get(&other).is_some_and(ChunkState::has_room));
            if retired || other_has_room {
                self.chunks.remove(&serial);
                return;
            }
        }
        let state = self.chunks.get_mut(&serial).expect("checked above");
        if !state.listed && state.has_room() {
            state.listed = true;
            self.with_room[class].push(serial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_only_when_never_viewed() {
        let mut arena = Arena::default();
        let mut first = arena.allocate(1, 64).unwrap();
        let keep = arena.allocate(2, 64).unwrap();
        first.bytes_mut().fill(9);
        let address = first.as_slice().as_ptr();
        arena.free(first);
        let mut reused = arena.allocate(3, 64).unwrap();
        assert_eq!(reused.as_slice().as_ptr(), address, "an unviewed slot is reused");
        assert_eq!(reused.as_slice(), &[0u8; 64][..], "and zeroed");
        reused.bytes_mut().fill(5);
        let Repr::Arena { chunk, offset, .. } = &reused.0 else {
            panic!()
        };
        arena.mark_exported(&chunk.clone(), *offset);
        let view = reused.view().expect("an arena page has views");
        arena.free(reused);
        let next = arena.allocate(4, 64).unwrap();
        assert_ne!(next.as_slice().as_ptr(), address, "a viewed slot is retired");
        assert_eq!(view.as_slice(), &[5u8; 64][..]);
        drop((keep, next));
    }

    #[test]
    fn an_emptied_chunk_with_a_retired_slot_leaves_the_arena_but_lives_in_its_view() {
        let mut arena = Arena::default();
        let mut page = arena.allocate(1, 100).unwrap();
        page.bytes_mut()[0] = 1;
        let Repr::Arena { chunk, offset, .. } = &page.0 else {
            panic!()
        };
        arena.mark_exported(&chunk.clone(), *offset);
        let view = page.view().expect("an arena page has views");
        arena.free(page);
        assert_eq!(arena.chunk_count(), 0);
        assert_eq!(view.as_slice()[0], 1);
    }

    #[test]
    fn create_release_cycles_keep_one_warm_chunk() {
        let mut arena = Arena::default();
        for id in 0..10_000 {
            let page = arena.allocate(id, 32).unwrap();
            arena.free(page);
        }
        assert_eq!(arena.chunk_count(), 1);
    }
}
