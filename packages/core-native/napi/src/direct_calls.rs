//! Direct calls: the calls on the hot paths (single-delta applies, a wave's
//! begin and resume) as plain Node-API functions bound to one state.
//!
//! A `#[napi]` method pays, on every call, napi-rs's class unwrap, its type-tag
//! check and its borrow registry (a mutex-guarded map entry for `self` and for
//! each borrowed typed array): together more than the copy of a 4 KiB delta.
//! These functions read their state from the function's own data instead, and
//! borrow the caller's typed arrays only for the synchronous call.
//!
//! Why that is sound: the data holds a strong reference to the state's JS
//! object, so the state outlives every function bound to it; and no method of
//! `NativeState` calls into JavaScript, so a direct call never runs while
//! another call holds the state (there is one JS thread, and no re-entry).
//! The core reads a delta's bytes more than once (check, log, apply), so bytes
//! that can change meanwhile are copied first: those in a `SharedArrayBuffer`,
//! which other threads write, and those in memory the addon exported (a page's
//! view, the counters, a shared file: exported.rs), which the apply itself,
//! the log's sync thread or another process writes. For the same reasons wave
//! memory, which the core writes, is refused in either.

use std::borrow::Cow;
use std::ffi::{c_void, CString};
use std::ptr;

use mmsb_core::{Delta, Payload};
use napi::bindgen_prelude::{ClassInstance, FromNapiValue, Object};
use napi::{sys, Env};
use napi_derive::napi;

use crate::convert::{fail, invalid, to_expect_epoch, to_source, to_u64, Result};
use crate::exported;
use crate::propagation::WaveAnswer;
use crate::state::NativeState;

/// What a bound function's data holds.
struct Bound {
    state: *mut NativeState,
    /// Keeps the state's JS object (which owns `state`) alive while the function lives.
    keep: sys::napi_ref,
}

/// The direct calls bound to `state`: `applyDense` and `applySparse` (answer
/// the page's new epoch), `beginWave` and `resumeWave` (answer as
/// `NativeState::begin_wave`, propagation.rs).
#[napi(ts_return_type = "{
  applyDense(id: number, bytes: Uint8Array, expectEpoch: number | null | undefined, source: number): number
  applySparse(id: number, mask: Uint8Array, bytes: Uint8Array, expectEpoch: number | null | undefined, source: number): number
  beginWave(changed: Float64Array, memory: Uint8Array, limit: number, listPages: boolean): number | Float64Array
  resumeWave(memory: Uint8Array): number | Float64Array
}")]
pub fn direct_calls<'env>(env: &'env Env, mut state: ClassInstance<'env, NativeState>) -> Result<Object<'env>> {
    let raw_env = env.raw();
    let mut object = ptr::null_mut();
    check(unsafe { sys::napi_create_object(raw_env, &mut object) })?;
    let target: *mut NativeState = &mut *state;
    bind(raw_env, object, state.value, target, c"applyDense", apply_dense)?;
    bind(raw_env, object, state.value, target, c"applySparse", apply_sparse)?;
    bind(raw_env, object, state.value, target, c"beginWave", begin_wave)?;
    bind(raw_env, object, state.value, target, c"resumeWave", resume_wave)?;
    unsafe { Object::from_napi_value(raw_env, object) }.map_err(|error| invalid(error.reason))
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(invalid(format!("a Node-API call failed with status {status}")))
    }
}

fn bind(
    env: sys::napi_env,
    object: sys::napi_value,
    owner: sys::napi_value,
    state: *mut NativeState,
    name: &std::ffi::CStr,
    callback: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
) -> Result<()> {
    let mut keep = ptr::null_mut();
    check(unsafe { sys::napi_create_reference(env, owner, 1, &mut keep) })?;
    let data = Box::into_raw(Box::new(Bound { state, keep }));
    let mut function = ptr::null_mut();
    let created = unsafe {
        sys::napi_create_function(
            env,
            name.as_ptr(),
            name.count_bytes() as isize,
            Some(callback),
            data.cast(),
            &mut function,
        )
    };
    let finalized = if created == sys::Status::napi_ok {
        unsafe {
            sys::napi_add_finalizer(
                env,
                function,
                data.cast(),
                Some(release),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        }
    } else {
        created
    };
    if finalized != sys::Status::napi_ok {
        unsafe { release(env, data.cast(), ptr::null_mut()) };
        return check(finalized);
    }
    check(unsafe { sys::napi_set_named_property(env, object, name.as_ptr(), function) })
}

unsafe extern "C" fn release(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    let bound = unsafe { Box::from_raw(data.cast::<Bound>()) };
    unsafe { sys::napi_delete_reference(env, bound.keep) };
}

/// A call's arguments.
struct Call {
    env: sys::napi_env,
    args: [sys::napi_value; 5],
}

impl Call {
    /// The arguments, and the state the function is bound to.
    ///
    /// # Safety
    /// `info` is the callback info of a function made by `bind`.
    unsafe fn read<'a>(env: sys::napi_env, info: sys::napi_callback_info) -> (Call, &'a mut NativeState) {
        let mut count = 5;
        let mut args = [ptr::null_mut(); 5];
        let mut data = ptr::null_mut();
        unsafe { sys::napi_get_cb_info(env, info, &mut count, args.as_mut_ptr(), ptr::null_mut(), &mut data) };
        // Missing arguments read as undefined, as in JavaScript.
        let mut undefined = ptr::null_mut();
        unsafe { sys::napi_get_undefined(env, &mut undefined) };
        for arg in args.iter_mut().skip(count) {
            *arg = undefined;
        }
        let bound = unsafe { &*data.cast::<Bound>() };
        (Call { env, args }, unsafe { &mut *bound.state })
    }

    fn number(&self, index: usize, what: &str) -> Result<f64> {
        let mut value = 0.0;
        match unsafe { sys::napi_get_value_double(self.env, self.args[index], &mut value) } {
            sys::Status::napi_ok => Ok(value),
            _ => Err(invalid(format!("{what} must be a number"))),
        }
    }

    fn optional_number(&self, index: usize, what: &str) -> Result<Option<f64>> {
        let mut kind = 0;
        unsafe { sys::napi_typeof(self.env, self.args[index], &mut kind) };
        match kind {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
            _ => self.number(index, what).map(Some),
        }
    }

    /// A source code: read as a number and checked to be an exact small
    /// integer (`napi_get_value_uint32` would truncate 0.9, NaN or 2^32 to 0).
    fn source(&self, index: usize) -> Result<mmsb_core::Source> {
        let value = self.number(index, "delta source")?;
        if value.fract() != 0.0 || !(0.0..=f64::from(u8::MAX)).contains(&value) {
            return Err(invalid(format!("unknown delta source {value}")));
        }
        to_source(value as u32)
    }

    fn flag(&self, index: usize, what: &str) -> Result<bool> {
        let mut value = false;
        match unsafe { sys::napi_get_value_bool(self.env, self.args[index], &mut value) } {
            sys::Status::napi_ok => Ok(value),
            _ => Err(invalid(format!("{what} must be a boolean"))),
        }
    }

    /// A typed array argument of `kind` (named `kind_name` in the error):
    /// its first element, its length, and whether its buffer is shared (a
    /// `SharedArrayBuffer`).
    fn typed_array(
        &self,
        index: usize,
        kind: sys::napi_typedarray_type,
        what: &str,
        kind_name: &str,
    ) -> Result<(*mut c_void, usize, bool)> {
        match unsafe { typed_array_info(self.env, self.args[index]) } {
            Some((found, data, length, shared)) if found == kind => Ok((data, length, shared)),
            _ => Err(invalid(format!("{what} must be a {kind_name}"))),
        }
    }

    /// A Uint8Array argument's bytes, borrowed for this call or copied by
    /// the read-once rule (`exported::settled`).
    fn bytes<'a>(&self, index: usize, what: &str) -> Result<Cow<'a, [u8]>> {
        let (data, length, shared) = self.typed_array(index, sys::TypedarrayType::uint8_array, what, "Uint8Array")?;
        // Valid for the call: no JavaScript runs before it returns, so nothing detaches or resizes the buffer.
        let borrowed: &[u8] = if data.is_null() {
            &[]
        } else {
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), length) }
        };
        Ok(exported::settled(borrowed, shared))
    }

    /// A Float64Array argument, copied.
    fn doubles(&self, index: usize, what: &str) -> Result<Vec<f64>> {
        let (data, length, _) = self.typed_array(index, sys::TypedarrayType::float64_array, what, "Float64Array")?;
        let mut doubles = vec![0.0; length];
        if !data.is_null() {
            // Copied bytewise: an external buffer from elsewhere need not be 8-aligned.
            unsafe { ptr::copy_nonoverlapping(data.cast::<u8>(), doubles.as_mut_ptr().cast::<u8>(), length * 8) };
        }
        Ok(doubles)
    }

    /// The bus's wave memory, borrowed for writing during this call. Shared
    /// memory is refused: other threads could write it while the core does;
    /// so is memory the addon exported, which the core would write as wave
    /// memory without a log record (a page's view) or others write too.
    fn wave_memory<'a>(&self, index: usize) -> Result<&'a mut [u8]> {
        let (data, length, shared) =
            self.typed_array(index, sys::TypedarrayType::uint8_array, "wave memory", "Uint8Array")?;
        if shared {
            return Err(invalid("wave memory must not be a SharedArrayBuffer".to_owned()));
        }
        if exported::overlaps(data.cast(), length) {
            return Err(invalid(
                "wave memory must not be a page's view, the counters or a shared file".to_owned(),
            ));
        }
        // Valid for the call, as for `bytes`; the arguments read before this are copies, so nothing aliases it.
        Ok(if data.is_null() {
            &mut []
        } else {
            unsafe { std::slice::from_raw_parts_mut(data.cast::<u8>(), length) }
        })
    }

    fn finish(&self, outcome: Result<impl Answer>) -> sys::napi_value {
        match outcome.and_then(|answer| answer.to_js(self.env)) {
            Ok(value) => value,
            Err(error) => {
                throw(self.env, error.status.as_ref(), &error.reason);
                ptr::null_mut()
            }
        }
    }
}

/// A direct call's result, as a JavaScript value.
trait Answer {
    fn to_js(self, env: sys::napi_env) -> Result<sys::napi_value>;
}

fn number(env: sys::napi_env, value: f64) -> Result<sys::napi_value> {
    let mut result = ptr::null_mut();
    check(unsafe { sys::napi_create_double(env, value, &mut result) })?;
    Ok(result)
}

/// A page's new epoch.
impl Answer for u64 {
    fn to_js(self, env: sys::napi_env) -> Result<sys::napi_value> {
        number(env, self as f64)
    }
}

impl Answer for WaveAnswer {
    fn to_js(self, env: sys::napi_env) -> Result<sys::napi_value> {
        let pages = match self {
            WaveAnswer::Number(value) => return number(env, value),
            WaveAnswer::Pages(pages) => pages,
        };
        let (mut data, mut buffer, mut array) = (ptr::null_mut(), ptr::null_mut(), ptr::null_mut());
        let bytes = std::mem::size_of_val(pages.as_slice());
        check(unsafe { sys::napi_create_arraybuffer(env, bytes, &mut data, &mut buffer) })?;
        if bytes > 0 {
            // Safety: the new buffer holds `bytes` bytes, and nothing else refers to it yet.
            unsafe { ptr::copy_nonoverlapping(pages.as_ptr().cast::<u8>(), data.cast::<u8>(), bytes) };
        }
        check(unsafe {
            sys::napi_create_typedarray(
                env,
                sys::TypedarrayType::float64_array,
                pages.len(),
                buffer,
                0,
                &mut array,
            )
        })?;
        Ok(array)
    }
}

/// A typed array's type, first element, length and whether its buffer is
/// shared (a `SharedArrayBuffer`); `None` for a value that is not one. The
/// first element is null for an empty array.
///
/// # Safety
/// `value` is a live value of `env`, in a call on its JS thread.
pub(crate) unsafe fn typed_array_info(
    env: sys::napi_env,
    value: sys::napi_value,
) -> Option<(sys::napi_typedarray_type, *mut c_void, usize, bool)> {
    let (mut kind, mut length, mut data, mut buffer, mut offset) = (0, 0, ptr::null_mut(), ptr::null_mut(), 0);
    let status = unsafe {
        sys::napi_get_typedarray_info(env, value, &mut kind, &mut length, &mut data, &mut buffer, &mut offset)
    };
    if status != sys::Status::napi_ok {
        return None;
    }
    let mut plain = false;
    unsafe { sys::napi_is_arraybuffer(env, buffer, &mut plain) };
    Some((kind, if length == 0 { ptr::null_mut() } else { data }, length, !plain))
}

fn throw(env: sys::napi_env, code: &str, message: &str) {
    let code = CString::new(code).unwrap_or_default();
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    unsafe { sys::napi_throw_error(env, code.as_ptr(), message.as_ptr()) };
}

unsafe extern "C" fn apply_dense(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (call, state) = unsafe { Call::read(env, info) };
    let outcome = (|| {
        let page_id = to_u64(call.number(0, "page id")?, "page id")?;
        let bytes = call.bytes(1, "bytes")?;
        let expect_epoch = to_expect_epoch(call.optional_number(2, "expectEpoch")?)?;
        let source = call.source(3)?;
        let delta = Delta {
            page_id,
            payload: Payload::Dense(bytes.as_ref()),
            source,
            expect_epoch,
        };
        state.store.apply(&delta).map_err(fail)
    })();
    call.finish(outcome)
}

unsafe extern "C" fn apply_sparse(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (call, state) = unsafe { Call::read(env, info) };
    let outcome = (|| {
        let page_id = to_u64(call.number(0, "page id")?, "page id")?;
        let mask = call.bytes(1, "mask")?;
        let packed = call.bytes(2, "bytes")?;
        let expect_epoch = to_expect_epoch(call.optional_number(3, "expectEpoch")?)?;
        let source = call.source(4)?;
        let delta = Delta {
            page_id,
            payload: Payload::Sparse {
                mask: mask.as_ref(),
                packed: packed.as_ref(),
            },
            source,
            expect_epoch,
        };
        state.store.apply(&delta).map_err(fail)
    })();
    call.finish(outcome)
}

unsafe extern "C" fn begin_wave(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (call, state) = unsafe { Call::read(env, info) };
    let outcome = (|| {
        let changed = call.doubles(0, "changed pages")?;
        let limit = call.number(2, "waveLimit")?;
        let list_pages = call.flag(3, "listPages")?;
        state.begin_wave(&changed, call.wave_memory(1)?, limit, list_pages)
    })();
    call.finish(outcome)
}

unsafe extern "C" fn resume_wave(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let (call, state) = unsafe { Call::read(env, info) };
    let outcome = call.wave_memory(0).and_then(|memory| state.resume_wave(memory));
    call.finish(outcome)
}
