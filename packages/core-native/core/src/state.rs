//! The state machine: every change to pages goes through here.
//!
//! Each operation validates completely before it changes anything, so an
//! error leaves the state (and its hash) exactly as it was. The durable log
//! will record the same operations in the same order; replaying them through
//! this type rebuilds the state byte for byte.

use std::collections::HashMap;

use crate::delta::{apply_payload, Delta};
use crate::error::{fail, Error, Result};
use crate::metadata::{validate_entry, Metadata};
use crate::page::{validate_size, Location, Page, PageId};
use crate::page_table::PageTable;
use crate::state_hash::{hash_pages, StateHash};

/// The most pages one `create_pages` call makes.
pub const CREATE_PAGES_MAX: u64 = 1 << 24;

#[derive(Default)]
pub struct State {
    pages: PageTable,
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    /// Creates a zeroed page and returns its id.
    pub fn create_page(&mut self, size: u64, location: Location, metadata: &[(&str, &[u8])]) -> Result<PageId> {
        validate_size(size)?;
        check_location(location)?;
        let mut map = Metadata::default();
        for (key, value) in metadata {
            validate_entry(key, Some(value))?;
        }
        for (key, value) in metadata {
            map.set(key, Some(value))?;
        }
        Ok(self.pages.insert(Page::new(size, location, map)))
    }

    /// Creates `count` zeroed pages of one size; returns the first id (the
    /// rest follow consecutively).
    pub fn create_pages(&mut self, count: u64, size: u64, location: Location) -> Result<PageId> {
        if count == 0 || count > CREATE_PAGES_MAX {
            return fail!(InvalidArgument, "page count {count} is outside 1..={CREATE_PAGES_MAX}");
        }
        validate_size(size)?;
        check_location(location)?;
        self.pages.reserve(count as usize);
        let first = self.pages.next_page_id();
        for _ in 0..count {
            self.pages.insert(Page::new(size, location, Metadata::default()));
        }
        Ok(first)
    }

    /// Releases a page. Its id stays taken; views of it keep their memory.
    pub fn release_page(&mut self, id: PageId) -> Result<()> {
        self.pages.remove(id).map(drop)
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
    pub fn set_metadata(&mut self, id: PageId, key: &str, value: Option<&[u8]>) -> Result<()> {
        self.pages.get_mut(id)?.set_metadata(key, value)
    }

    /// Applies one delta; returns the page's new epoch.
    pub fn apply<B: AsRef<[u8]>>(&mut self, delta: &Delta<B>) -> Result<u64> {
        let page = self.pages.get_mut(delta.page_id)?;
        validate_against(delta, page, page.epoch)?;
        apply_payload(page.data.bytes_mut(), &delta.payload.as_borrowed());
        page.epoch += 1;
        Ok(page.epoch)
    }

    /// Applies deltas in order, all or none: every delta is validated against
    /// the state that the deltas before it would produce, then all are applied.
    pub fn apply_batch<B: AsRef<[u8]>>(&mut self, deltas: &[Delta<B>]) -> Result<()> {
        let mut applied_before: HashMap<PageId, u64> = HashMap::new();
        for (index, delta) in deltas.iter().enumerate() {
            let earlier = applied_before.entry(delta.page_id).or_insert(0);
            self.pages
                .get(delta.page_id)
                .and_then(|page| validate_against(delta, page, page.epoch + *earlier))
                .map_err(|error| Error::new(error.code, format!("batch delta {index}: {}", error.message)))?;
            *earlier += 1;
        }
        for delta in deltas {
            let page = self.pages.get_mut(delta.page_id).expect("validated above");
            apply_payload(page.data.bytes_mut(), &delta.payload.as_borrowed());
            page.epoch += 1;
        }
        Ok(())
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
        hash_pages(&self.pages)
    }
}

/// CUDA is not loaded by this build: device-backed locations are refused.
fn check_location(location: Location) -> Result<()> {
    match location {
        Location::Cpu => Ok(()),
        Location::Gpu | Location::Unified => fail!(
            CudaUnavailable,
            "location {:?} needs a CUDA device, and no CUDA driver is loaded",
            location.as_str()
        ),
    }
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
