//! Pages: fixed-size byte buffers with an epoch, a location and metadata.
//!
//! Invariants:
//! - `id` is assigned by the bus, starts at 1, increases by one per created
//!   page and is never reused, even after release.
//! - `size` is fixed at creation and lies in `1..=PAGE_SIZE_MAX`.
//! - `epoch` is 0 at creation and grows by exactly one per applied delta.
//! - `data` is exactly `size` bytes, all zero at creation, in the backend
//!   the page was created in or last moved to (page_memory/).

use crate::error::{fail, Result};
use crate::metadata::{Metadata, EMPTY_METADATA};
use crate::page_memory::{MemoryKind, PageMemory};

/// Page ids are plain integers; 0 is never assigned.
pub type PageId = u64;

/// The largest page, in bytes. Lengths in the encoded formats are u32.
pub const PAGE_SIZE_MAX: u64 = u32::MAX as u64;

/// Where a page's bytes live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Location {
    Cpu = 0,
    Gpu = 1,
    Unified = 2,
}

impl crate::names::Named for Location {
    const ALL: &'static [Location] = &[Location::Cpu, Location::Gpu, Location::Unified];
    const WHAT: &'static str = "location";

    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Location {
    pub fn parse(name: &str) -> Result<Location> {
        crate::names::parse(name, crate::ErrorCode::LocationUnknown)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Location::Cpu => "cpu",
            Location::Gpu => "gpu",
            Location::Unified => "unified",
        }
    }
}

/// One page: its bytes, epoch, location and metadata.
pub struct Page {
    pub(crate) data: PageMemory,
    pub(crate) epoch: u64,
    /// Location and metadata, out of line: `None` means a `cpu` page with no
    /// metadata, the common case, and keeps a page's entry at 32 bytes.
    extras: Option<Box<PageExtras>>,
}

struct PageExtras {
    location: Location,
    metadata: Metadata,
}

impl Page {
    /// A page at `epoch` over `data` (zeroed memory for a new page, a
    /// checkpoint's bytes for a restored one).
    pub(crate) fn new(data: PageMemory, epoch: u64, location: Location, metadata: Metadata) -> Page {
        let extras =
            (location != Location::Cpu || !metadata.is_empty()).then(|| Box::new(PageExtras { location, metadata }));
        Page { data, epoch, extras }
    }

    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn location(&self) -> Location {
        self.extras.as_ref().map_or(Location::Cpu, |extras| extras.location)
    }

    pub fn data(&self) -> &[u8] {
        self.data.as_slice()
    }

    pub fn metadata(&self) -> &Metadata {
        self.extras.as_ref().map_or(&EMPTY_METADATA, |extras| &extras.metadata)
    }

    /// Sets or removes one metadata entry.
    pub(crate) fn set_metadata(&mut self, key: &str, value: Option<&[u8]>) -> Result<()> {
        let location = self.location();
        let extras = self.extras.get_or_insert_with(|| {
            Box::new(PageExtras {
                location,
                metadata: Metadata::default(),
            })
        });
        let result = extras.metadata.set(key, value);
        if extras.location == Location::Cpu && extras.metadata.is_empty() {
            self.extras = None;
        }
        result
    }

    /// The backend holding the page's bytes.
    pub fn memory(&self) -> MemoryKind {
        self.data.kind()
    }

    /// The file behind a `mapped` page (page_memory/mapped.rs has its lifetime rules).
    pub fn mapped_path(&self) -> Option<&std::path::Path> {
        self.data.mapped_path()
    }
}

// A page costs 32 bytes in the page table, plus its bytes.
const _: () = assert!(std::mem::size_of::<Option<Page>>() == 32);

/// Checks a requested page size before anything is allocated.
pub fn validate_size(size: u64) -> Result<()> {
    if size == 0 || size > PAGE_SIZE_MAX {
        return fail!(PageSizeInvalid, "page size {size} is outside 1..={PAGE_SIZE_MAX}");
    }
    Ok(())
}
