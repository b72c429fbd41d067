//! Deltas: masked writes to one page, in three equivalent forms.
//!
//! - dense: exactly `size` bytes that replace the page;
//! - sparse: a mask of `size` bits (bit `i % 8` of byte `i / 8` covers page
//!   byte `i`, least significant bit first; bits past the page end are zero)
//!   plus the bytes of the set bits, packed in page order;
//! - ranges: `(offset, bytes)` writes, in offset order, not overlapping.
//!
//! A delta is validated whole against its page before any byte is written.
//! Payloads are generic over their byte storage so that the same code serves
//! borrowed bytes (from JavaScript or a decoded batch) and owned ones (merge).

mod apply;
pub mod encoding;
mod merge;
mod sparse;

pub use apply::apply_payload;
pub use merge::merge;

use crate::error::{fail, Result};
use crate::names::Named;
use crate::page::PageId;

/// Who produced a delta; recorded with it so replay can tell them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Source {
    /// An application call on the bus.
    User = 0,
    /// A recompute of the propagation engine.
    Propagation = 1,
    /// A client of the ZeroMQ bridge.
    Bridge = 2,
}

impl Named for Source {
    const ALL: &'static [Source] = &[Source::User, Source::Propagation, Source::Bridge];
    const WHAT: &'static str = "delta source";

    fn name(self) -> &'static str {
        match self {
            Source::User => "user",
            Source::Propagation => "propagation",
            Source::Bridge => "bridge",
        }
    }
}

const _: () = assert!(
    Source::User as usize == 0 && Source::Propagation as usize == 1 && Source::Bridge as usize == 2,
    "Source::ALL is indexed by code"
);

impl Source {
    /// The source whose code (its discriminant, as logged) is `value`.
    pub fn from_u8(value: u8) -> Option<Source> {
        Source::ALL.get(usize::from(value)).copied()
    }

    pub fn parse(name: &str) -> Result<Source> {
        crate::names::parse(name, crate::ErrorCode::InvalidArgument)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeWrite<B> {
    pub offset: u64,
    pub bytes: B,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload<B> {
    Dense(B),
    Sparse { mask: B, packed: B },
    Ranges(Vec<RangeWrite<B>>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delta<B> {
    pub page_id: PageId,
    pub payload: Payload<B>,
    pub source: Source,
    pub expect_epoch: Option<u64>,
}

/// The mask length, in bytes, of a sparse delta for a page of `size` bytes.
pub const fn mask_len(size: u64) -> u64 {
    size.div_ceil(8)
}

impl<B: AsRef<[u8]>> Payload<B> {
    /// Checks that the payload fits a page of `size` bytes; names `page_id` on failure.
    pub fn validate(&self, page_id: PageId, size: u64) -> Result<()> {
        match self {
            Payload::Dense(bytes) => {
                let len = bytes.as_ref().len() as u64;
                if len != size {
                    return fail!(
                        DeltaSizeMismatch,
                        "dense delta of {len} bytes for page {page_id} of {size} bytes"
                    );
                }
            }
            Payload::Sparse { mask, packed } => {
                let mask = mask.as_ref();
                let expected = mask_len(size);
                if mask.len() as u64 != expected {
                    return fail!(
                        DeltaSizeMismatch,
                        "sparse mask of {} bytes for page {page_id} of {size} bytes: expected {expected}",
                        mask.len()
                    );
                }
                let tail_bits = size % 8;
                if tail_bits != 0 && mask[mask.len() - 1] >> tail_bits != 0 {
                    return fail!(
                        DeltaSizeMismatch,
                        "sparse mask sets bits past the end of page {page_id} of {size} bytes"
                    );
                }
                let selected = sparse::count_ones(mask);
                let packed_len = packed.as_ref().len() as u64;
                if packed_len != selected {
                    return fail!(
                        DeltaSizeMismatch,
                        "sparse delta for page {page_id} has {packed_len} packed bytes for {selected} mask bits"
                    );
                }
            }
            Payload::Ranges(writes) => {
                let mut end_of_previous = 0u64;
                for (index, write) in writes.iter().enumerate() {
                    let len = write.bytes.as_ref().len() as u64;
                    let end = write.offset.checked_add(len).filter(|&end| end <= size);
                    let Some(end) = end else {
                        return fail!(
                            RangeOutOfBounds,
                            "range {index} writes {len} bytes at offset {} past the end of page {page_id} of {size} bytes",
                            write.offset
                        );
                    };
                    if write.offset < end_of_previous {
                        return fail!(
                            RangeOverlap,
                            "range {index} at offset {} of page {page_id} starts before the previous range ends at {end_of_previous}",
                            write.offset
                        );
                    }
                    end_of_previous = end;
                }
            }
        }
        Ok(())
    }

    /// Borrows the payload's bytes, so owned and borrowed forms share one apply path.
    pub fn as_borrowed(&self) -> Payload<&[u8]> {
        match self {
            Payload::Dense(bytes) => Payload::Dense(bytes.as_ref()),
            Payload::Sparse { mask, packed } => Payload::Sparse {
                mask: mask.as_ref(),
                packed: packed.as_ref(),
            },
            Payload::Ranges(writes) => Payload::Ranges(
                writes
                    .iter()
                    .map(|write| RangeWrite {
                        offset: write.offset,
                        bytes: write.bytes.as_ref(),
                    })
                    .collect(),
            ),
        }
    }
}
