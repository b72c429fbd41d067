//! The page table: id → page, with ids assigned in order and never reused.
//!
//! Invariants:
//! - `slots[i]` holds the page with id `first_slot_id + i`, or `None` once
//!   that page is released.
//! - The front slot, when there is one, is live: released pages at the front
//!   are dropped, so a workload that releases its oldest pages keeps the
//!   table as small as its live set. A released page in the middle costs one
//!   empty slot until everything before it is released too.
//! - Every id below `first_slot_id` was created and released.

use std::collections::VecDeque;

use crate::error::{fail, Result};
use crate::page::{Page, PageId};

pub struct PageTable {
    slots: VecDeque<Option<Page>>,
    first_slot_id: PageId,
}

impl Default for PageTable {
    fn default() -> PageTable {
        PageTable {
            slots: VecDeque::new(),
            first_slot_id: 1,
        }
    }
}

impl PageTable {
    /// The id the next created page will get.
    pub fn next_page_id(&self) -> PageId {
        self.first_slot_id + self.slots.len() as u64
    }

    pub fn insert(&mut self, page: Page) -> PageId {
        let id = self.next_page_id();
        self.slots.push_back(Some(page));
        id
    }

    /// A table holding `pages` (in increasing id order) with every other id
    /// below `next_page_id` released.
    pub fn restore(pages: Vec<(PageId, Page)>, next_page_id: PageId) -> PageTable {
        let Some(&(first_slot_id, _)) = pages.first() else {
            return PageTable {
                slots: VecDeque::new(),
                first_slot_id: next_page_id,
            };
        };
        let mut slots = VecDeque::with_capacity((next_page_id - first_slot_id) as usize);
        for (id, page) in pages {
            while first_slot_id + (slots.len() as u64) < id {
                slots.push_back(None);
            }
            slots.push_back(Some(page));
        }
        while first_slot_id + (slots.len() as u64) < next_page_id {
            slots.push_back(None);
        }
        PageTable { slots, first_slot_id }
    }

    /// Reserves room for `additional` more pages, so bulk creation grows once.
    pub fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
    }

    pub fn get(&self, id: PageId) -> Result<&Page> {
        let slot = self.slot(id)?;
        slot.and_then(|index| self.slots[index].as_ref())
            .map_or_else(|| released(id), Ok)
    }

    pub fn get_mut(&mut self, id: PageId) -> Result<&mut Page> {
        let slot = self.slot(id)?;
        slot.and_then(|index| self.slots[index].as_mut())
            .map_or_else(|| released(id), Ok)
    }

    pub fn remove(&mut self, id: PageId) -> Result<Page> {
        let slot = self.slot(id)?;
        let Some(page) = slot.and_then(|index| self.slots[index].take()) else {
            return released(id);
        };
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first_slot_id += 1;
        }
        Ok(page)
    }

    /// Live pages in id order.
    pub fn iter(&self) -> impl Iterator<Item = (PageId, &Page)> {
        let first = self.first_slot_id;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(index, slot)| slot.as_ref().map(|page| (first + index as u64, page)))
    }

    pub fn live_count(&self) -> usize {
        self.slots.iter().filter(|slot| slot.is_some()).count()
    }

    /// The slot index of `id`: `Ok(None)` for an id released before the
    /// first slot, an error for an id never assigned.
    fn slot(&self, id: PageId) -> Result<Option<usize>> {
        if id == 0 || id >= self.next_page_id() {
            return fail!(PageNotFound, "page {id} does not exist");
        }
        Ok(id.checked_sub(self.first_slot_id).map(|index| index as usize))
    }
}

fn released<T>(id: PageId) -> Result<T> {
    fail!(PageReleased, "page {id} was released")
}
