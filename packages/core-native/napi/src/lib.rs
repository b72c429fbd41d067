//! The napi binding of mmsb-core: declares the functions @mmsb/bus calls and
//! converts types, nothing more. Every core error crosses as a JS `Error`
//! whose `code` is the core's stable code string.
//!
//! Numbers cross as f64 and are checked to be exact non-negative integers
//! (≤ 2^53) here, because napi's own integer conversion truncates silently.

use std::collections::HashSet;

use mmsb_core::delta::encoding::decode_batch;
use mmsb_core::delta::merge;
use mmsb_core::{Delta, ErrorCode, Location, PageId, Payload, Source, State};
use napi::bindgen_prelude::{Uint8Array, Uint8ArraySlice};
use napi::Env;
use napi_derive::napi;

/// A core error code as napi's error status, which becomes the JS `code`.
pub struct Code(&'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

type Result<T> = std::result::Result<T, napi::Error<Code>>;

fn fail(error: mmsb_core::Error) -> napi::Error<Code> {
    napi::Error::new(Code(error.code.as_str()), error.message)
}

fn invalid(message: String) -> napi::Error<Code> {
    napi::Error::new(Code(ErrorCode::InvalidArgument.as_str()), message)
}

fn napi_failure(error: napi::Error) -> napi::Error<Code> {
    invalid(error.reason)
}

/// The largest integer a JS number holds exactly.
const SAFE_INTEGER_MAX: f64 = 9_007_199_254_740_991.0;

fn to_u64(value: f64, what: &str) -> Result<u64> {
    if value.fract() != 0.0 || !(0.0..=SAFE_INTEGER_MAX).contains(&value) {
        return Err(invalid(format!(
            "{what} must be a non-negative safe integer, got {value}"
        )));
    }
    Ok(value as u64)
}

fn to_source(value: u32) -> Result<Source> {
    u8::try_from(value)
        .ok()
        .and_then(Source::from_u8)
        .ok_or_else(|| invalid(format!("unknown delta source {value}")))
}

fn to_expect_epoch(value: Option<f64>) -> Result<Option<u64>> {
    value.map(|epoch| to_u64(epoch, "expectEpoch")).transpose()
}

/// The stable error codes of the core, in declaration order.
#[napi]
pub fn error_codes() -> Vec<String> {
    ErrorCode::ALL.iter().map(|code| code.as_str().to_owned()).collect()
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
    let deltas = decode_batch(encoded.as_ref()).map_err(fail)?;
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

#[napi(object)]
pub struct PageInfo {
    pub size: f64,
    pub epoch: f64,
    pub location: String,
}

#[napi(object)]
pub struct MetadataEntry {
    pub key: String,
    pub value: napi::bindgen_prelude::Buffer,
}

/// One in-memory state, owned by a JS `Bus`.
#[napi]
pub struct NativeState {
    state: State,
    /// Pages that have a zero-copy view. V8 refuses two external buffers over
    /// one pointer, so each page exports at most one view (the bus caches it).
    viewed_pages: HashSet<PageId>,
}

#[napi]
impl NativeState {
    #[napi(constructor)]
    pub fn new() -> NativeState {
        NativeState {
            state: State::new(),
            viewed_pages: HashSet::new(),
        }
    }

    #[napi]
    pub fn create_page(
        &mut self,
        size: f64,
        location: String,
        metadata_keys: Vec<String>,
        metadata_values: Vec<Uint8ArraySlice>,
    ) -> Result<f64> {
        let size = to_u64(size, "size")?;
        let location = Location::parse(&location).map_err(fail)?;
        if metadata_keys.len() != metadata_values.len() {
            return Err(invalid("metadata keys and values differ in count".to_owned()));
        }
        let metadata: Vec<(&str, &[u8])> = metadata_keys
            .iter()
            .zip(metadata_values.iter())
            .map(|(key, value)| (key.as_str(), value.as_ref()))
            .collect();
        let id = self.state.create_page(size, location, &metadata).map_err(fail)?;
        Ok(id as f64)
    }

    #[napi]
    pub fn create_pages(&mut self, count: f64, size: f64, location: String) -> Result<f64> {
        let count = to_u64(count, "count")?;
        let size = to_u64(size, "size")?;
        let location = Location::parse(&location).map_err(fail)?;
        Ok(self.state.create_pages(count, size, location).map_err(fail)? as f64)
    }

    #[napi]
    pub fn release_page(&mut self, id: f64) -> Result<()> {
        let id = to_u64(id, "page id")?;
        self.state.release_page(id).map_err(fail)?;
        self.viewed_pages.remove(&id);
        Ok(())
    }

    #[napi]
    pub fn page_info(&self, id: f64) -> Result<PageInfo> {
        let page = self.state.page(to_u64(id, "page id")?).map_err(fail)?;
        Ok(PageInfo {
            size: page.size() as f64,
            epoch: page.epoch() as f64,
            location: page.location().as_str().to_owned(),
        })
    }

    #[napi]
    pub fn metadata(&self, id: f64) -> Result<Vec<MetadataEntry>> {
        let page = self.state.page(to_u64(id, "page id")?).map_err(fail)?;
        Ok(page
            .metadata()
            .iter()
            .map(|(key, value)| MetadataEntry {
                key: key.to_owned(),
                value: value.to_vec().into(),
            })
            .collect())
    }

    #[napi]
    pub fn set_metadata(&mut self, id: f64, key: String, value: Option<Uint8ArraySlice>) -> Result<()> {
        let id = to_u64(id, "page id")?;
        self.state
            .set_metadata(id, &key, value.as_ref().map(|value| value.as_ref()))
            .map_err(fail)
    }

    /// Copies `length` bytes of a page from `offset`.
    #[napi]
    pub fn read<'env>(&self, env: &'env Env, id: f64, offset: f64, length: f64) -> Result<Uint8ArraySlice<'env>> {
        let bytes = self
            .state
            .read(
                to_u64(id, "page id")?,
                to_u64(offset, "offset")?,
                to_u64(length, "length")?,
            )
            .map_err(fail)?;
        Uint8ArraySlice::copy_from(env, bytes).map_err(napi_failure)
    }

    /// Copies whole pages, one buffer each, in one crossing.
    #[napi]
    pub fn read_many<'env>(&self, env: &'env Env, ids: Vec<f64>) -> Result<Vec<Uint8ArraySlice<'env>>> {
        let mut pages = Vec::with_capacity(ids.len());
        for id in ids {
            pages.push(self.state.page(to_u64(id, "page id")?).map_err(fail)?.data());
        }
        pages
            .into_iter()
            .map(|bytes| Uint8ArraySlice::copy_from(env, bytes).map_err(napi_failure))
            .collect()
    }

    /// A zero-copy, live view of a page's bytes. It keeps the memory alive
    /// after the page is released; it must be treated as read-only.
    #[napi]
    pub fn view<'env>(&mut self, env: &'env Env, id: f64) -> Result<Uint8ArraySlice<'env>> {
        let id = to_u64(id, "page id")?;
        let bytes = self.state.page(id).map_err(fail)?.shared_bytes().clone();
        if !self.viewed_pages.insert(id) {
            return Err(invalid(format!("page {id} already has a view; the bus caches it")));
        }
        let pointer = bytes.as_ptr();
        let len = bytes.len();
        // Safety: `bytes` keeps the allocation alive until the finalizer
        // drops it, and the core writes it only between JS turns.
        unsafe { Uint8ArraySlice::from_external(env, pointer, len, bytes, |_, bytes| drop(bytes)) }
            .map_err(napi_failure)
    }

    #[napi]
    pub fn apply_dense(
        &mut self,
        id: f64,
        bytes: Uint8ArraySlice,
        expect_epoch: Option<f64>,
        source: u32,
    ) -> Result<f64> {
        let delta = Delta {
            page_id: to_u64(id, "page id")?,
            payload: Payload::Dense(bytes.as_ref()),
            source: to_source(source)?,
            expect_epoch: to_expect_epoch(expect_epoch)?,
        };
        Ok(self.state.apply(&delta).map_err(fail)? as f64)
    }

    #[napi]
    pub fn apply_sparse(
        &mut self,
        id: f64,
        mask: Uint8ArraySlice,
        packed: Uint8ArraySlice,
        expect_epoch: Option<f64>,
        source: u32,
    ) -> Result<f64> {
        let delta = Delta {
            page_id: to_u64(id, "page id")?,
            payload: Payload::Sparse {
                mask: mask.as_ref(),
                packed: packed.as_ref(),
            },
            source: to_source(source)?,
            expect_epoch: to_expect_epoch(expect_epoch)?,
        };
        Ok(self.state.apply(&delta).map_err(fail)? as f64)
    }

    /// Applies one encoded delta and returns the page's new epoch.
    #[napi]
    pub fn apply_encoded_one(&mut self, batch: Uint8ArraySlice) -> Result<f64> {
        let deltas = decode_batch(batch.as_ref()).map_err(fail)?;
        let [delta] = deltas.as_slice() else {
            return Err(invalid(format!("expected one encoded delta, got {}", deltas.len())));
        };
        Ok(self.state.apply(delta).map_err(fail)? as f64)
    }

    /// Applies an encoded batch, all or none; returns how many deltas it held.
    #[napi]
    pub fn apply_batch(&mut self, batch: Uint8ArraySlice) -> Result<u32> {
        let deltas = decode_batch(batch.as_ref()).map_err(fail)?;
        self.state.apply_batch(&deltas).map_err(fail)?;
        Ok(deltas.len() as u32)
    }

    #[napi]
    pub fn state_hash(&self) -> String {
        self.state.state_hash().to_hex()
    }

    #[napi]
    pub fn next_page_id(&self) -> f64 {
        self.state.next_page_id() as f64
    }

    #[napi]
    pub fn live_page_count(&self) -> f64 {
        self.state.live_page_count() as f64
    }
}

impl Default for NativeState {
    fn default() -> NativeState {
        NativeState::new()
    }
}
