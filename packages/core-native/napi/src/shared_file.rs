//! Shared files mapped into JavaScript: the bridge's bulk path.

use std::path::Path;

use mmsb_core::shared_file::SharedFile;
use napi::bindgen_prelude::Uint8ArraySlice;
use napi::Env;
use napi_derive::napi;

use crate::convert::{fail, Result};
use crate::exported;

/// Maps the whole regular file at `path` shared (writable or read-only) as
/// a Uint8Array over the mapping: writes through it reach the file, and every
/// other mapping of the file sees them. Unmapped when the array is collected.
#[napi]
pub fn map_shared_file<'env>(env: &'env Env, path: String, writable: bool) -> Result<Uint8ArraySlice<'env>> {
    let file = SharedFile::open(Path::new(&path), writable).map_err(fail)?;
    let pointer = file.as_ptr();
    let len = file.len();
    // Safety: `file` keeps the mapping alive until the finalizer drops it. A
    // read-only mapping written from JavaScript faults; the caller asks for
    // `writable` where it writes.
    unsafe { exported::external(env, pointer, len, file) }
}
