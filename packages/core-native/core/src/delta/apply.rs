//! Writing a validated payload into page bytes.

use super::{sparse, Payload};

/// Applies `payload` to `page`. The payload must already have passed
/// `Payload::validate` for a page of this size.
pub fn apply_payload(page: &mut [u8], payload: &Payload<&[u8]>) {
    match payload {
        Payload::Dense(bytes) => page.copy_from_slice(bytes),
        Payload::Sparse { mask, packed } => sparse::scatter(page, mask, packed),
        Payload::Ranges(writes) => {
            for write in writes {
                let start = write.offset as usize;
                page[start..start + write.bytes.len()].copy_from_slice(write.bytes);
            }
        }
    }
}
