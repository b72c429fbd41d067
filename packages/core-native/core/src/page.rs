//! Pages: fixed-size byte buffers with an epoch, a location and metadata.
//!
//! Invariants:
//! - `id` is assigned by the bus, starts at 1, increases by one per created
//!   page and is never reused, even after release.
//! - `size` is fixed at creation and lies in `1..=PAGE_SIZE_MAX`.
//! - `epoch` is 0 at creation and grows by exactly one per applied delta.
//! - `data` is exactly `size` bytes, all zero at creation.

use crate::error::{fail, Result};
use crate::metadata::Metadata;
use crate::page_bytes::PageBytes;

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

impl Location {
    pub fn parse(name: &str) -> Result<Location> {
        match name {
            "cpu" => Ok(Location::Cpu),
            "gpu" => Ok(Location::Gpu),
            "unified" => Ok(Location::Unified),
            _ => fail!(
                LocationUnknown,
                "unknown location {name:?}: expected \"cpu\", \"gpu\" or \"unified\""
            ),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Location::Cpu => "cpu",
            Location::Gpu => "gpu",
            Location::Unified => "unified",
        }
    }
}

pub struct Page {
    pub(crate) data: PageBytes,
    pub(crate) epoch: u64,
    pub(crate) location: Location,
    pub(crate) metadata: Metadata,
}

impl Page {
    pub(crate) fn new(size: u64, location: Location, metadata: Metadata) -> Page {
        Page {
            data: PageBytes::zeroed(size as usize),
            epoch: 0,
            location,
            metadata,
        }
    }

    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn location(&self) -> Location {
        self.location
    }

    pub fn data(&self) -> &[u8] {
        self.data.as_slice()
    }

    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The shared buffer, for exporting a zero-copy view.
    pub fn shared_bytes(&self) -> &PageBytes {
        &self.data
    }
}

/// Checks a requested page size before anything is allocated.
pub fn validate_size(size: u64) -> Result<()> {
    if size == 0 || size > PAGE_SIZE_MAX {
        return fail!(PageSizeInvalid, "page size {size} is outside 1..={PAGE_SIZE_MAX}");
    }
    Ok(())
}
