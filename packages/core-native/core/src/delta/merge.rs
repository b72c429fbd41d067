//! Merge (⊕) of two deltas on one page: the later write wins byte by byte.
//!
//! The result is dense when either side is dense (a dense write covers every
//! byte), otherwise sparse: the union of both masks with the later bytes.

use super::{apply_payload, Payload, RangeWrite};
use crate::error::Result;
use crate::page::PageId;

/// Returns one payload equivalent to applying `first` then `second` to a page
/// of `size` bytes. Both are validated first.
pub fn merge<A: AsRef<[u8]>, B: AsRef<[u8]>>(
    page_id: PageId,
    size: u64,
    first: &Payload<A>,
    second: &Payload<B>,
) -> Result<Payload<Vec<u8>>> {
    first.validate(page_id, size)?;
    second.validate(page_id, size)?;
    let first = first.as_borrowed();
    let second = second.as_borrowed();
    if let Payload::Dense(bytes) = second {
        return Ok(Payload::Dense(bytes.to_vec()));
    }
    let size = size as usize;
    if let Payload::Dense(bytes) = first {
        let mut merged = bytes.to_vec();
        apply_payload(&mut merged, &second);
        return Ok(Payload::Dense(merged));
    }
    let mut mask = vec![0u8; size.div_ceil(8)];
    let mut bytes = vec![0u8; size];
    for payload in [&first, &second] {
        cover(&mut mask, payload);
        apply_payload(&mut bytes, payload);
    }
    let packed = (0..size)
        .filter(|&index| mask[index / 8] >> (index % 8) & 1 == 1)
        .map(|index| bytes[index])
        .collect();
    Ok(Payload::Sparse { mask, packed })
}

/// Sets the mask bits of every byte that `payload` writes.
fn cover(mask: &mut [u8], payload: &Payload<&[u8]>) {
    match payload {
        Payload::Dense(_) => unreachable!("dense payloads are merged without a mask"),
        Payload::Sparse { mask: written, .. } => {
            for (target, source) in mask.iter_mut().zip(written.iter()) {
                *target |= source;
            }
        }
        Payload::Ranges(writes) => {
            for RangeWrite { offset, bytes } in writes {
                let start = *offset as usize;
                for index in start..start + bytes.len() {
                    mask[index / 8] |= 1 << (index % 8);
                }
            }
        }
    }
}
