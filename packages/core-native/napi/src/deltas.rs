//! Deltas: encoded single applies and batches, merge. Dense and sparse
//! single applies are direct calls (direct_calls.rs).

use std::borrow::Cow;

use mmsb_core::delta::encoding::decode_batch;
use mmsb_core::delta::merge;
use mmsb_core::Payload;
use napi::bindgen_prelude::{JsValue, Uint8Array, Uint8ArraySlice};
use napi_derive::napi;

use crate::convert::{fail, invalid, to_u64, Result};
use crate::direct_calls::typed_array_info;
use crate::exported;
use crate::state::NativeState;

/// An encoding's bytes for an apply or a merge, which read them more than
/// once: borrowed or copied by the read-once rule (`exported::settled`), as
/// the direct calls' payloads are.
fn settled<'a>(encoding: &'a Uint8ArraySlice) -> Cow<'a, [u8]> {
    let value = encoding.value();
    // Safety: `value` is the typed array napi-rs converted for this call; unread, it is copied.
    let shared = unsafe { typed_array_info(value.env, value.value) }.is_none_or(|(_, _, _, shared)| shared);
    exported::settled(encoding.as_ref(), shared)
}

/// The result of `merge_payloads`: dense (`mask` absent) or sparse.
#[napi(object)]
pub struct MergedPayload {
    pub kind: String,
    pub mask: Option<Uint8Array>,
    pub bytes: Uint8Array,
}

/// Merges two encoded deltas for a page of `size` bytes into one payload
/// equal in effect to applying the first, then the second.
#[napi]
pub fn merge_payloads(size: f64, encoded: Uint8ArraySlice) -> Result<MergedPayload> {
    let size = to_u64(size, "size")?;
    mmsb_core::page::validate_size(size).map_err(fail)?;
    // Decoding checks lengths that merging then reads: the bytes must not change in between.
    let encoded = settled(&encoded);
    let deltas = decode_batch(&encoded).map_err(fail)?;
    let [first, second] = deltas.as_slice() else {
        return Err(invalid(format!("merge takes two encoded deltas, got {}", deltas.len())));
    };
    match merge(first.page_id, size, &first.payload, &second.payload).map_err(fail)? {
        Payload::Dense(bytes) => Ok(MergedPayload {
            kind: "dense".to_owned(),
            mask: None,
            bytes: bytes.into(),
        }),
        Payload::Sparse { mask, packed } => Ok(MergedPayload {
            kind: "sparse".to_owned(),
            mask: Some(mask.into()),
            bytes: packed.into(),
        }),
        Payload::Ranges(_) => unreachable!("merge yields dense or sparse payloads"),
    }
}

#[napi]
impl NativeState {
    /// Applies one encoded delta and returns the page's new epoch.
    #[napi]
    pub fn apply_encoded_one(&mut self, batch: Uint8ArraySlice) -> Result<f64> {
        let batch = settled(&batch);
        let deltas = decode_batch(&batch).map_err(fail)?;
        let [delta] = deltas.as_slice() else {
            return Err(invalid(format!("expected one encoded delta, got {}", deltas.len())));
        };
        Ok(self.store.apply(delta).map_err(fail)? as f64)
    }

    /// Applies an encoded batch, all or none; returns how many deltas it held.
    #[napi]
    pub fn apply_batch(&mut self, batch: Uint8ArraySlice) -> Result<u32> {
        Ok(self.store.apply_encoded(&settled(&batch)).map_err(fail)? as u32)
    }
}
