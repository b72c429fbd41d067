//! Pages: creating, releasing, moving between page memories, metadata, and
//! reading (copies and live views).

use mmsb_core::{Location, MemoryKind};
use napi::bindgen_prelude::{Array, FromNapiValue, Uint8ArraySlice};
use napi::{sys, Env, Status};
use napi_derive::napi;

use crate::convert::{fail, invalid, napi_failure, to_u64, Result};
use crate::exported;
use crate::state::NativeState;

#[napi(object)]
pub struct PageInfo {
    pub size: f64,
    pub epoch: f64,
    pub location: String,
    /// The page memory: `heap`, `arena`, `mapped`, `device` or `managed`.
    pub memory: String,
}

/// The named page memory, or the default (`None`) when no name is given.
fn memory_named(name: Option<&str>) -> Result<Option<MemoryKind>> {
    name.map(MemoryKind::parse).transpose().map_err(fail)
}

#[napi(object)]
pub struct MetadataEntry {
    pub key: String,
    pub value: napi::bindgen_prelude::Buffer,
}

/// Metadata values, each copied as it is converted: converting a later one
/// may run a getter, which could take an earlier one's buffer away (transfer
/// it, and have it collected) while a borrow still pointed into it.
pub struct MetadataValues(Vec<Vec<u8>>);

impl FromNapiValue for MetadataValues {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<MetadataValues> {
        let array = unsafe { Array::from_napi_value(env, value)? };
        (0..array.len())
            .map(|index| match array.get::<Uint8ArraySlice>(index)? {
                Some(bytes) => Ok(bytes.to_vec()),
                None => Err(napi::Error::new(
                    Status::InvalidArg,
                    format!("metadata value {index} is missing"),
                )),
            })
            .collect::<napi::Result<_>>()
            .map(MetadataValues)
    }
}

#[napi]
impl NativeState {
    /// Creates a page with metadata `keys[i]` → `values[i]` (msgpack) in the
    /// memory named (`None`: the default for one page).
    #[napi]
    pub fn create_page(
        &mut self,
        size: f64,
        location: String,
        keys: Vec<String>,
        #[napi(ts_arg_type = "Array<Uint8Array>")] values: MetadataValues,
        memory: Option<String>,
    ) -> Result<f64> {
        let size = to_u64(size, "size")?;
        let location = Location::parse(&location).map_err(fail)?;
        let memory = memory_named(memory.as_deref())?.unwrap_or(MemoryKind::default_for_page(location, size));
        let values = values.0;
        if keys.len() != values.len() {
            return Err(invalid("metadata keys and values differ in count".to_owned()));
        }
        let metadata: Vec<(&str, &[u8])> = keys
            .iter()
            .zip(values.iter())
            .map(|(key, value)| (key.as_str(), value.as_ref()))
            .collect();
        let id = self
            .store
            .create_page_in(memory, size, location, &metadata)
            .map_err(fail)?;
        Ok(id as f64)
    }

    #[napi]
    pub fn create_pages(&mut self, count: f64, size: f64, location: String, memory: Option<String>) -> Result<f64> {
        let count = to_u64(count, "count")?;
        let size = to_u64(size, "size")?;
        let location = Location::parse(&location).map_err(fail)?;
        let memory = memory_named(memory.as_deref())?.unwrap_or(MemoryKind::default_for_pages(location, size));
        Ok(self
            .store
            .create_pages_in(memory, count, size, location)
            .map_err(fail)? as f64)
    }

    /// Moves a page's bytes to another page memory (a logged change); false
    /// when it is there already. Its old view no longer sees deltas, so the
    /// page may export a new one.
    #[napi]
    pub fn move_page(&mut self, id: f64, memory: String) -> Result<bool> {
        let id = to_u64(id, "page id")?;
        let memory = MemoryKind::parse(&memory).map_err(fail)?;
        let moved = self.store.move_page(id, memory).map_err(fail)?;
        if moved {
            self.viewed_pages.remove(&id);
        }
        Ok(moved)
    }

    /// The file of a `mapped` page; `None` for a page in other memory.
    #[napi]
    pub fn mapped_path(&self, id: f64) -> Result<Option<String>> {
        let page = self.store.page(to_u64(id, "page id")?).map_err(fail)?;
        Ok(page.mapped_path().map(|path| path.display().to_string()))
    }

    #[napi]
    pub fn release_page(&mut self, id: f64) -> Result<()> {
        let id = to_u64(id, "page id")?;
        self.store.release_page(id).map_err(fail)?;
        self.viewed_pages.remove(&id);
        Ok(())
    }

    #[napi]
    pub fn page_info(&self, id: f64) -> Result<PageInfo> {
        let page = self.store.page(to_u64(id, "page id")?).map_err(fail)?;
        Ok(PageInfo {
            size: page.size() as f64,
            epoch: page.epoch() as f64,
            location: page.location().as_str().to_owned(),
            memory: page.memory().as_str().to_owned(),
        })
    }

    #[napi]
    pub fn metadata(&self, id: f64) -> Result<Vec<MetadataEntry>> {
        let page = self.store.page(to_u64(id, "page id")?).map_err(fail)?;
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
        self.store
            .set_metadata(id, &key, value.as_ref().map(|value| value.as_ref()))
            .map_err(fail)
    }

    /// Copies `length` bytes of a page from `offset`.
    #[napi]
    pub fn read<'env>(&self, env: &'env Env, id: f64, offset: f64, length: f64) -> Result<Uint8ArraySlice<'env>> {
        let bytes = self
            .store
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
            pages.push(self.store.page(to_u64(id, "page id")?).map_err(fail)?.data());
        }
        pages
            .into_iter()
            .map(|bytes| Uint8ArraySlice::copy_from(env, bytes).map_err(napi_failure))
            .collect()
    }

    /// A zero-copy, live view of a page's bytes. It keeps the memory alive
    /// after the page is released or moved; it must be treated as read-only.
    #[napi]
    pub fn view<'env>(&mut self, env: &'env Env, id: f64) -> Result<Uint8ArraySlice<'env>> {
        let id = to_u64(id, "page id")?;
        self.store.page(id).map_err(fail)?;
        if self.viewed_pages.contains(&id) {
            return Err(invalid(format!("page {id} already has a view; the bus caches it")));
        }
        let bytes = self.store.export_view(id).map_err(fail)?;
        self.viewed_pages.insert(id);
        let pointer = bytes.as_ptr();
        let len = bytes.len();
        // Safety: `bytes` keeps the allocation alive until the finalizer
        // drops it, and the core writes it only between JS turns.
        unsafe { exported::external(env, pointer, len, bytes) }
    }
}
