//! Memory the addon hands to JavaScript as external buffers (page views, the
//! counters, shared-file mappings), known by address while JavaScript holds it.
//!
//! The core, another thread or another process writes that memory, so a
//! typed array over it can change during a call: the direct calls copy a
//! payload that overlaps it and refuse it as wave memory. The record is per
//! thread: each JS thread has its own, and an external buffer never leaves
//! its thread (V8 copies a non-detachable buffer it is asked to transfer).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;

use napi::bindgen_prelude::Uint8ArraySlice;
use napi::Env;

use crate::convert::{napi_failure, Result};

thread_local! {
    /// First byte → one past the last, of each exported range (disjoint: each is memory of its own).
    static EXPORTED: RefCell<BTreeMap<usize, usize>> = const { RefCell::new(BTreeMap::new()) };
}

/// A Uint8Array over `len` bytes at `pointer`, which `owner` keeps alive
/// until the array is collected; recorded as exported until then.
///
/// # Safety
/// As `Uint8ArraySlice::from_external`: the bytes stay valid while `owner` lives.
pub(crate) unsafe fn external<T: 'static>(
    env: &Env,
    pointer: *mut u8,
    len: usize,
    owner: T,
) -> Result<Uint8ArraySlice<'_>> {
    // Empty ranges overlap nothing, and are not recorded.
    let start = (len > 0).then_some(pointer as usize);
    if let Some(start) = start {
        EXPORTED.with(|exported| exported.borrow_mut().insert(start, start + len));
    }
    let array = unsafe {
        Uint8ArraySlice::from_external(env, pointer, len, owner, move |_, owner| {
            forget(start);
            drop(owner);
        })
    };
    // A failed creation never calls the finalizer.
    array.inspect_err(|_| forget(start)).map_err(napi_failure)
}

fn forget(start: Option<usize>) {
    if let Some(start) = start {
        // A finalizer may run at thread exit, after the record is gone.
        let _ = EXPORTED.try_with(|exported| exported.borrow_mut().remove(&start));
    }
}

/// Whether `len` bytes at `pointer` overlap memory exported on this thread.
pub(crate) fn overlaps(pointer: *const u8, len: usize) -> bool {
    let start = pointer as usize;
    len > 0
        && EXPORTED.with(|exported| {
            exported
                .borrow()
                .range(..start + len)
                .next_back()
                .is_some_and(|(_, &end)| end > start)
        })
}

/// Bytes the core reads more than once (check, log, apply): borrowed, or
/// copied first when they may change meanwhile: in shared memory (`shared`:
/// a `SharedArrayBuffer`, which other threads write) or in memory exported
/// here (a page's view, which the apply itself may write).
pub(crate) fn settled(bytes: &[u8], shared: bool) -> Cow<'_, [u8]> {
    if shared || overlaps(bytes.as_ptr(), bytes.len()) {
        Cow::Owned(bytes.to_vec())
    } else {
        Cow::Borrowed(bytes)
    }
}
