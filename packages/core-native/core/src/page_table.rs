//! The page table: id → page, with ids assigned in order and never reused.
//!
//! Ids are grouped in blocks of `BLOCK_PAGES` consecutive ids (block number
//! `id / BLOCK_PAGES`); a block is an array of slots, allocated when its
//! first id is assigned and freed when every id of it was assigned and every
//! page in it released. The blocks present are kept in a deque sorted by
//! number, with gaps where blocks were freed.
//!
//! Invariants:
//! - Memory follows the live pages, not the ids issued: each block present
//!   holds a live page, except the block of the next id. One long-lived page
//!   beside a million created-and-released ones keeps two blocks.
//! - Lookup is O(1) while no block before the wanted one was freed out of
//!   order (the deque index is the block number minus the first one), and
//!   falls back to a binary search over the blocks present (O(log live
//!   blocks)) when some were. While the blocks present have no gap at all
//!   (`contiguous`), lookup reads no block's number: a number sits past the
//!   block's 4 KiB of slots, and reading it costs a wave over a million pages
//!   a second memory page (and TLB entry) per block.
//! - An id at or above `next_page_id` (or 0) was never assigned; an id below
//!   it without a page was released.

use std::collections::VecDeque;

use crate::error::{fail, Result};
use crate::page::{Page, PageId};

/// Ids per block: a block of 32-byte slots is 4 KiB.
const BLOCK_PAGES: u64 = 128;

struct Block {
    number: u64,
    live: u32,
    slots: [Option<Page>; BLOCK_PAGES as usize],
}

impl Block {
    fn new(number: u64) -> Box<Block> {
        Box::new(Block {
            number,
            live: 0,
            slots: std::array::from_fn(|_| None),
        })
    }
}

/// The table of live pages, by id.
pub struct PageTable {
    blocks: VecDeque<Box<Block>>,
    next_page_id: PageId,
    live: usize,
    /// The number of the first block present (0 when none is).
    first_number: u64,
    /// True when the blocks present are numbered `first_number` onwards
    /// without a gap.
    contiguous: bool,
}

impl Default for PageTable {
    fn default() -> PageTable {
        PageTable {
            blocks: VecDeque::new(),
            next_page_id: 1,
            live: 0,
            first_number: 0,
            contiguous: true,
        }
    }
}

impl PageTable {
    /// The id the next created page will get.
    pub fn next_page_id(&self) -> PageId {
        self.next_page_id
    }

    /// Adds `page` under the next id and returns that id.
    pub fn insert(&mut self, page: Page) -> PageId {
        let id = self.next_page_id;
        self.put(id, page);
        self.next_page_id += 1;
        id
    }

    /// A table holding `pages` (in increasing id order, all below
    /// `next_page_id`) with every other id below `next_page_id` released.
    pub fn restore(pages: Vec<(PageId, Page)>, next_page_id: PageId) -> PageTable {
        let mut table = PageTable::default();
        for (id, page) in pages {
            table.put(id, page);
        }
        table.next_page_id = next_page_id;
        table
    }

    /// Puts `page` under `id`, at or after every block present.
    fn put(&mut self, id: PageId, page: Page) {
        let number = id / BLOCK_PAGES;
        if self.blocks.back().is_none_or(|block| block.number != number) {
            self.blocks.push_back(Block::new(number));
            self.blocks_changed();
        }
        let block = self.blocks.back_mut().expect("pushed above");
        block.slots[(id % BLOCK_PAGES) as usize] = Some(page);
        block.live += 1;
        self.live += 1;
    }

    /// The live page `id`.
    #[inline]
    pub fn get(&self, id: PageId) -> Result<&Page> {
        let (index, slot) = self.find(id)?;
        index
            .and_then(|index| self.blocks[index].slots[slot].as_ref())
            .map_or_else(|| released(id), Ok)
    }

    /// The live page `id`, for changing it.
    #[inline]
    pub fn get_mut(&mut self, id: PageId) -> Result<&mut Page> {
        let (index, slot) = self.find(id)?;
        index
            .and_then(|index| self.blocks[index].slots[slot].as_mut())
            .map_or_else(|| released(id), Ok)
    }

    /// Takes the live page `id` out; its id stays assigned.
    pub fn remove(&mut self, id: PageId) -> Result<Page> {
        let (index, slot) = self.find(id)?;
        let Some(index) = index else {
            return released(id);
        };
        let block = &mut self.blocks[index];
        let Some(page) = block.slots[slot].take() else {
            return released(id);
        };
        block.live -= 1;
        self.live -= 1;
        let complete = (block.number + 1) * BLOCK_PAGES <= self.next_page_id;
        if block.live == 0 && complete {
            self.blocks.remove(index);
            self.blocks_changed();
        }
        Ok(page)
    }

    fn blocks_changed(&mut self) {
        let (Some(first), Some(last)) = (self.blocks.front(), self.blocks.back()) else {
            (self.first_number, self.contiguous) = (0, true);
            return;
        };
        self.first_number = first.number;
        self.contiguous = last.number - first.number + 1 == self.blocks.len() as u64;
    }

    /// Live pages in id order.
    pub fn iter(&self) -> impl Iterator<Item = (PageId, &Page)> {
        self.blocks.iter().flat_map(|block| {
            let first = block.number * BLOCK_PAGES;
            block
                .slots
                .iter()
                .enumerate()
                .filter_map(move |(slot, page)| page.as_ref().map(|page| (first + slot as u64, page)))
        })
    }

    pub fn live_count(&self) -> usize {
        self.live
    }

    /// Blocks allocated (for tests of the memory bound).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// The deque index of `id`'s block (`None`: freed, so released) and its
    /// slot; an error for an id never assigned.
    #[inline]
    fn find(&self, id: PageId) -> Result<(Option<usize>, usize)> {
        if id == 0 || id >= self.next_page_id {
            return unknown(id);
        }
        let number = id / BLOCK_PAGES;
        let slot = (id % BLOCK_PAGES) as usize;
        if self.blocks.is_empty() {
            return Ok((None, slot));
        }
        let Some(offset) = number.checked_sub(self.first_number) else {
            return Ok((None, slot));
        };
        if self.contiguous {
            return Ok((((offset as usize) < self.blocks.len()).then_some(offset as usize), slot));
        }
        // Blocks are sorted with gaps, so `number` sits at index `offset` or before.
        let guess = (offset as usize).min(self.blocks.len() - 1);
        if self.blocks[guess].number == number {
            return Ok((Some(guess), slot));
        }
        let index = self.blocks.binary_search_by_key(&number, |block| block.number).ok();
        Ok((index, slot))
    }
}

// Errors are built out of line: every page access passes through `find`.
#[cold]
fn unknown<T>(id: PageId) -> Result<T> {
    fail!(PageNotFound, "page {id} does not exist")
}

#[cold]
fn released<T>(id: PageId) -> Result<T> {
    fail!(PageReleased, "page {id} was released")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::Metadata;
    use crate::page::Location;
    use crate::page_memory::{Memory, MemoryConfig, MemoryKind};
    use crate::ErrorCode;

    fn page(memory: &mut Memory, epoch: u64) -> Page {
        let data = memory.allocate(MemoryKind::Heap, 1, 8).unwrap();
        Page::new(data, epoch, Location::Cpu, Metadata::default())
    }

    #[test]
    fn cycles_beside_one_long_lived_page_keep_two_blocks() {
        let mut memory = Memory::new(&MemoryConfig::Private);
        let mut table = PageTable::default();
        let kept = table.insert(page(&mut memory, 7));
        for _ in 0..100_000 {
            let id = table.insert(page(&mut memory, 0));
            table.remove(id).unwrap();
            assert!(table.block_count() <= 2);
        }
        assert_eq!(table.get(kept).unwrap().epoch(), 7);
        assert_eq!(table.get(5_000).err().unwrap().code, ErrorCode::PageReleased);
        assert_eq!(table.get(100_002).err().unwrap().code, ErrorCode::PageNotFound);
        assert_eq!(table.live_count(), 1);
    }

    #[test]
    fn lookups_find_pages_across_freed_blocks() {
        let mut memory = Memory::new(&MemoryConfig::Private);
        let mut table = PageTable::default();
        for epoch in 1..=2000 {
            table.insert(page(&mut memory, epoch));
        }
        let released = |id: u64| (200..1400).contains(&id) || id.is_multiple_of(7);
        for id in (1..=2000).filter(|&id| released(id)) {
            table.remove(id).unwrap();
        }
        assert!(table.block_count() < 2000 / BLOCK_PAGES as usize);
        for id in 1..=2000 {
            match table.get(id) {
                Ok(page) => assert!(!released(id) && page.epoch() == id, "page {id}"),
                Err(error) => assert!(released(id) && error.code == ErrorCode::PageReleased, "page {id}"),
            }
        }
        let live: Vec<u64> = table.iter().map(|(id, _)| id).collect();
        let expected: Vec<u64> = (1..=2000).filter(|&id| !released(id)).collect();
        assert_eq!(live, expected);
        assert_eq!(table.live_count(), expected.len());
        let restored = PageTable::restore(
            live.iter().map(|&id| (id, page(&mut memory, id))).collect(),
            table.next_page_id(),
        );
        assert_eq!(restored.iter().map(|(id, _)| id).collect::<Vec<_>>(), expected);
        assert_eq!(restored.get(300).err().unwrap().code, ErrorCode::PageReleased);
    }

    #[test]
    fn lookups_agree_with_a_model_through_gaps_opening_and_closing() {
        let mut memory = Memory::new(&MemoryConfig::Private);
        let mut table = PageTable::default();
        let mut live = std::collections::BTreeSet::new();
        let mut rng = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next();
        for round in 0..40 {
            for _ in 0..(next() % 700) {
                let id = table.insert(page(&mut memory, 0));
                live.insert(id);
            }
            // Release whole runs of ids, so that blocks are freed at the front,
            // in the middle and at the back.
            let top = table.next_page_id();
            let from = next() % top;
            let to = (from + next() % 600).min(top);
            for id in from..to {
                if live.remove(&id) {
                    table.remove(id).unwrap();
                }
            }
            for id in 0..table.next_page_id() + 2 {
                let found = table.get(id);
                assert_eq!(found.is_ok(), live.contains(&id), "page {id} in round {round}");
            }
        }
        assert_eq!(table.live_count(), live.len());
    }
}
