//! The bridge's request socket for @mmsb/julia-bridge: the core's ROUTER
//! (`mmsb_core::zmq::router`) driven from the JavaScript thread's own event
//! loop. A libuv poll handle watches ZeroMQ's descriptor; each time the
//! socket may be readable, every waiting message goes to JavaScript in one
//! call, and replies are sent synchronously by `send`. No thread of MMSB's
//! serves it (only libzmq's own, as with zeromq.js): a message takes the
//! same hops as through zeromq.js, at a fraction of the cost per message.
//!
//! ZeroMQ's descriptor is edge-triggered, and receiving, sending or asking
//! for the socket's events can consume its signal. So after each of those
//! the router asks libzmq whether a message waits and, if one does while
//! JavaScript takes batches, starts a libuv idle handle, which keeps the
//! loop from blocking until the batch is handed over.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void, CStr};
use std::ptr;
use std::sync::OnceLock;

use mmsb_core::zmq::router::{self, Router, RouterOptions};
use napi::bindgen_prelude::{Buffer, Function, Object, ToNapiValue};
use napi::JsValue;
use napi::{sys, Env};
use napi_derive::napi;

use crate::convert::{fail, invalid, to_u64, Result};

/// The most messages handed over in one call.
const BATCH_MESSAGES: usize = 1024;
/// Frames up to this size reach JavaScript as copies in its own heap: an
/// external buffer costs a finalizer each, more than copying a request.
const COPIED_FRAME_BYTES: usize = 64 * 1024;
const UV_ASYNC: c_int = 1;
const UV_IDLE: c_int = 6;
const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;

type PollCallback = unsafe extern "C" fn(*mut c_void, c_int, c_int);
type HandleCallback = unsafe extern "C" fn(*mut c_void);

/// The libuv functions used, looked up in the running node (which exports them).
struct Uv {
    handle_size: unsafe extern "C" fn(c_int) -> usize,
    poll_init: unsafe extern "C" fn(*mut sys::uv_loop_s, *mut c_void, c_int) -> c_int,
    poll_start: unsafe extern "C" fn(*mut c_void, c_int, PollCallback) -> c_int,
    poll_stop: unsafe extern "C" fn(*mut c_void) -> c_int,
    idle_init: unsafe extern "C" fn(*mut sys::uv_loop_s, *mut c_void) -> c_int,
    idle_start: unsafe extern "C" fn(*mut c_void, HandleCallback) -> c_int,
    idle_stop: unsafe extern "C" fn(*mut c_void) -> c_int,
    close: unsafe extern "C" fn(*mut c_void, HandleCallback),
    async_init: unsafe extern "C" fn(*mut sys::uv_loop_s, *mut c_void, HandleCallback) -> c_int,
    async_send: unsafe extern "C" fn(*mut c_void) -> c_int,
}

/// The function of that name in the running program, as `F`.
///
/// Safety: `F` must be the function pointer type of the symbol.
unsafe fn symbol<F: Copy>(name: &CStr) -> std::result::Result<F, String> {
    assert_eq!(size_of::<F>(), size_of::<*mut c_void>());
    // Safety: looks a NUL-terminated name up in the loaded program.
    let address = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    if address.is_null() {
        return Err(format!(
            "this runtime does not export libuv's {}",
            name.to_string_lossy()
        ));
    }
    // Safety: the caller names the symbol's type; the sizes are equal.
    Ok(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&address) })
}

fn uv() -> std::result::Result<&'static Uv, String> {
    static UV: OnceLock<std::result::Result<Uv, String>> = OnceLock::new();
    UV.get_or_init(|| {
        // Safety: each field's type is the signature of the libuv function of that name.
        unsafe {
            Ok(Uv {
                handle_size: symbol(c"uv_handle_size")?,
                poll_init: symbol(c"uv_poll_init")?,
                poll_start: symbol(c"uv_poll_start")?,
                poll_stop: symbol(c"uv_poll_stop")?,
                idle_init: symbol(c"uv_idle_init")?,
                idle_start: symbol(c"uv_idle_start")?,
                idle_stop: symbol(c"uv_idle_stop")?,
                close: symbol(c"uv_close")?,
                async_init: symbol(c"uv_async_init")?,
                async_send: symbol(c"uv_async_send")?,
            })
        }
    })
    .as_ref()
    .map_err(String::clone)
}

#[napi(object)]
pub struct NativeRouterOptions {
    /// Larger messages are refused by ZeroMQ, which drops the connection.
    pub max_message_bytes: f64,
    /// Replies queued for one peer beyond this are dropped.
    pub send_high_water_mark: u32,
    /// How long closing lets queued replies leave, in milliseconds.
    pub linger_ms: u32,
}

/// Why the native router cannot run here (no libzmq, no libuv exports), or null when it can.
#[napi]
pub fn native_router_unavailable() -> Option<String> {
    router::unavailable().map(str::to_owned).or_else(|| uv().err())
}

/// What the libuv callbacks reach through their handles' `data`. JavaScript
/// runs inside `deliver` and may call `ready` and `send` there, so the
/// state they change is in cells and every method takes `&self`.
struct Pump {
    /// Taken by `close`, which closes it at once (so it unbinds); none means closed.
    router: RefCell<Option<Router>>,
    uv: &'static Uv,
    uv_loop: *mut sys::uv_loop_s,
    env: sys::napi_env,
    callback: sys::napi_ref,
    context: sys::napi_async_context,
    poll: *mut c_void,
    idle: *mut c_void,
    idling: Cell<bool>,
    /// Whether JavaScript takes the next batch (set by `ready`).
    ready: Cell<bool>,
    /// Handles not yet closed by libuv: the last one's close frees the Pump,
    /// so a `close` called from inside `deliver` frees nothing in use.
    open_handles: Cell<u8>,
}

impl Pump {
    /// Hands every waiting message to JavaScript, if it takes a batch now.
    fn pump(&self) {
        if self.closed() {
            return;
        }
        if self.ready.get() && self.readable() {
            let batch = self
                .router
                .borrow()
                .as_ref()
                .map(|router| router.receive_batch(BATCH_MESSAGES))
                .unwrap_or_default();
            if !batch.is_empty() {
                self.ready.set(false);
                self.deliver(batch);
            }
        }
        self.watch();
    }

    /// Keeps the loop from blocking while a message waits that JavaScript would take.
    fn watch(&self) {
        if self.closed() {
            return;
        }
        let wanted = self.ready.get() && self.readable();
        if wanted != self.idling.get() {
            // Safety: the idle handle is initialised and open until close.
            unsafe {
                if wanted {
                    (self.uv.idle_start)(self.idle, on_idle);
                } else {
                    (self.uv.idle_stop)(self.idle);
                }
            }
            self.idling.set(wanted);
        }
    }

    fn closed(&self) -> bool {
        self.router.borrow().is_none()
    }

    fn readable(&self) -> bool {
        self.router.borrow().as_ref().is_some_and(Router::readable)
    }

    fn deliver(&self, batch: Vec<router::Frames>) {
        // Safety: runs on the JavaScript thread (a libuv callback) with the
        // env, reference and async context made at bind; the handle scope
        // frees the values made here.
        unsafe {
            let mut scope = ptr::null_mut();
            sys::napi_open_handle_scope(self.env, &mut scope);
            let mut function = ptr::null_mut();
            let mut receiver = ptr::null_mut();
            sys::napi_get_reference_value(self.env, self.callback, &mut function);
            sys::napi_get_global(self.env, &mut receiver);
            if let Some(argument) = batch_value(self.env, batch) {
                let mut result = ptr::null_mut();
                let status =
                    sys::napi_make_callback(self.env, self.context, receiver, function, 1, &argument, &mut result);
                if status == sys::Status::napi_pending_exception {
                    let mut error = ptr::null_mut();
                    sys::napi_get_and_clear_last_exception(self.env, &mut error);
                    sys::napi_fatal_exception(self.env, error);
                }
            }
            sys::napi_close_handle_scope(self.env, scope);
        }
    }
}

/// A batch as an array of messages, each an array of Buffers.
///
/// # Safety
/// On the JavaScript thread of `env`, inside a handle scope.
unsafe fn batch_value(env: sys::napi_env, batch: Vec<router::Frames>) -> Option<sys::napi_value> {
    let ok = |status| status == sys::Status::napi_ok;
    let mut messages = ptr::null_mut();
    // Safety: as the caller's; every value made here is used in this scope.
    unsafe {
        if !ok(sys::napi_create_array_with_length(env, batch.len(), &mut messages)) {
            return None;
        }
        for (index, frames) in batch.into_iter().enumerate() {
            let mut message = ptr::null_mut();
            if !ok(sys::napi_create_array_with_length(env, frames.len(), &mut message)) {
                return None;
            }
            for (at, frame) in frames.into_iter().enumerate() {
                let value = if frame.len() <= COPIED_FRAME_BYTES {
                    let mut value = ptr::null_mut();
                    let status = sys::napi_create_buffer_copy(
                        env,
                        frame.len(),
                        frame.as_ptr().cast(),
                        ptr::null_mut(),
                        &mut value,
                    );
                    ok(status).then_some(value)
                } else {
                    Buffer::to_napi_value(env, Buffer::from(frame)).ok()
                };
                if !ok(sys::napi_set_element(env, message, at as u32, value?)) {
                    return None;
                }
            }
            if !ok(sys::napi_set_element(env, messages, index as u32, message)) {
                return None;
            }
        }
    }
    Some(messages)
}

unsafe extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
    // Safety: the handle's data is its live Pump (cleared only with the handle).
    unsafe { (*(*handle.cast::<*const Pump>())).pump() };
}

unsafe extern "C" fn on_idle(handle: *mut c_void) {
    // Safety: as on_readable.
    unsafe { (*(*handle.cast::<*const Pump>())).pump() };
}

/// The router's context has ended: the async handle that kept the loop
/// alive meanwhile is closed, and the process may exit.
unsafe extern "C" fn on_context_ended(handle: *mut c_void) {
    // Safety: the handle is the open async handle made by `close`; its data
    // is the libuv table, which lives for the process.
    unsafe {
        let uv = *handle.cast::<*const Uv>();
        ((*uv).close)(handle, on_async_closed);
    }
}

unsafe extern "C" fn on_async_closed(handle: *mut c_void) {
    // Safety: the handle was allocated with malloc by `close` and is closed.
    unsafe { libc::free(handle) };
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    // Safety: the handle was allocated with malloc at bind and is closed; its
    // data is the Pump made by Box::into_raw, freed with its last handle.
    unsafe {
        let pump = *handle.cast::<*const Pump>();
        libc::free(handle);
        let open = (*pump).open_handles.get() - 1;
        (*pump).open_handles.set(open);
        if open == 0 {
            drop(Box::from_raw(pump.cast_mut()));
        }
    }
}

/// The length of the array `array`.
///
/// # Safety
/// On the JavaScript thread of `env`.
unsafe fn array_length(env: sys::napi_env, array: sys::napi_value) -> Result<u32> {
    let mut length = 0;
    // Safety: as the caller's.
    match unsafe { sys::napi_get_array_length(env, array, &mut length) } {
        sys::Status::napi_ok => Ok(length),
        _ => Err(invalid("messages must be arrays of frames".into())),
    }
}

/// Element `index` of the array `array`.
///
/// # Safety
/// On the JavaScript thread of `env`.
unsafe fn element(env: sys::napi_env, array: sys::napi_value, index: u32) -> Result<sys::napi_value> {
    let mut value = ptr::null_mut();
    // Safety: as the caller's.
    match unsafe { sys::napi_get_element(env, array, index, &mut value) } {
        sys::Status::napi_ok => Ok(value),
        _ => Err(invalid(format!("no element {index}"))),
    }
}

/// A bound ROUTER socket whose messages reach JavaScript in batches.
#[napi]
pub struct NativeRouter {
    /// Owned through the libuv handles from bind until their close; null
    /// once `close` has started that.
    pump: Cell<*const Pump>,
    endpoint: String,
}

#[napi]
impl NativeRouter {
    /// Binds `endpoint`. `onMessages` receives each batch of messages (each
    /// its frames, the routing id first): the first after `ready()`, and
    /// after each batch, the next after `ready()` again.
    #[napi(
        factory,
        ts_args_type = "endpoint: string, options: NativeRouterOptions, onMessages: (messages: Buffer[][]) => void"
    )]
    pub fn bind(
        env: Env,
        endpoint: String,
        options: NativeRouterOptions,
        on_messages: Function<Vec<Vec<Buffer>>, ()>,
    ) -> Result<NativeRouter> {
        let uv = uv().map_err(|why| fail(mmsb_core::Error::new(mmsb_core::ErrorCode::IoError, why)))?;
        let max_message_bytes = i64::try_from(to_u64(options.max_message_bytes, "maxMessageBytes")?)
            .map_err(|_| invalid("maxMessageBytes is too large".into()))?;
        let options = RouterOptions {
            max_message_bytes,
            send_high_water_mark: options.send_high_water_mark.min(i32::MAX as u32) as i32,
            linger_ms: options.linger_ms.min(i32::MAX as u32) as i32,
        };
        let router = Router::bind(&endpoint, &options).map_err(fail)?;
        let fd = router.fd().map_err(fail)?;
        let endpoint = router.endpoint().to_owned();
        let raw = env.raw();
        let uv_loop = env.get_uv_event_loop().map_err(crate::convert::napi_failure)?;
        // Safety: on the JavaScript thread with its env; every handle is
        // malloc'ed at libuv's size and initialised before use; the Pump is
        // boxed, so the address in the handles' data stays put.
        unsafe {
            let mut callback = ptr::null_mut();
            sys::napi_create_reference(raw, on_messages.raw(), 1, &mut callback);
            let mut name = ptr::null_mut();
            sys::napi_create_string_utf8(raw, c"mmsb-router".as_ptr(), usize::MAX as isize, &mut name);
            let mut resource = ptr::null_mut();
            sys::napi_create_object(raw, &mut resource);
            let mut context = ptr::null_mut();
            sys::napi_async_init(raw, resource, name, &mut context);
            let poll = libc::malloc((uv.handle_size)(UV_POLL));
            let idle = libc::malloc((uv.handle_size)(UV_IDLE));
            let pump = Box::new(Pump {
                router: RefCell::new(Some(router)),
                uv,
                uv_loop,
                env: raw,
                callback,
                context,
                poll,
                idle,
                idling: Cell::new(false),
                ready: Cell::new(false),
                open_handles: Cell::new(2),
            });
            (uv.poll_init)(uv_loop, poll, fd);
            (uv.idle_init)(uv_loop, idle);
            let pump = Box::into_raw(pump).cast_const();
            *poll.cast::<*const Pump>() = pump;
            *idle.cast::<*const Pump>() = pump;
            (uv.poll_start)(poll, UV_READABLE, on_readable);
            (*pump).watch();
            Ok(NativeRouter {
                pump: Cell::new(pump),
                endpoint,
            })
        }
    }

    /// The endpoint as bound (a `*` port resolved).
    #[napi(getter)]
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Sends messages (each its frames, the routing id first) now, in order.
    /// A peer that is gone or over its high-water mark loses its reply. The
    /// frames are read in place (ZeroMQ copies each once): a typed array per
    /// frame would cost a reference each.
    #[napi(ts_args_type = "messages: Uint8Array[][]")]
    pub fn send(&self, env: Env, messages: Object<'_>) -> Result<()> {
        let Some(pump) = self.pump() else { return Ok(()) };
        let raw = env.raw();
        let router = pump.router.borrow();
        let Some(router) = router.as_ref() else { return Ok(()) };
        let mut frames: Vec<&[u8]> = Vec::new();
        // Safety: on the JavaScript thread; the frames borrowed here are read
        // by `router.send` before this call returns, and no JavaScript runs
        // meanwhile.
        unsafe {
            for index in 0..array_length(raw, messages.raw())? {
                let message = element(raw, messages.raw(), index)?;
                frames.clear();
                for at in 0..array_length(raw, message)? {
                    let frame = element(raw, message, at)?;
                    match crate::direct_calls::typed_array_info(raw, frame) {
                        Some((sys::TypedarrayType::uint8_array, data, length, _)) => frames.push(if length == 0 {
                            &[]
                        } else {
                            std::slice::from_raw_parts(data.cast(), length)
                        }),
                        _ => return Err(invalid(format!("messages[{index}][{at}] is not a Uint8Array"))),
                    }
                }
                router.send(&frames);
            }
        }
        pump.watch();
        Ok(())
    }

    /// Lets the router hand over its next batch.
    #[napi]
    pub fn ready(&self) {
        let Some(pump) = self.pump() else { return };
        pump.ready.set(true);
        pump.watch();
    }

    /// Closes the socket (it unbinds now); replies already sent leave in the
    /// background, for up to the linger, and the event loop stays alive
    /// until they have. Nothing is delivered afterwards.
    #[napi]
    pub fn close(&self) {
        let Some(pump) = self.pump() else { return };
        self.pump.set(ptr::null());
        let router = pump.router.borrow_mut().take();
        // Safety: on the JavaScript thread; stopping the handles ends their
        // callbacks, and closing them frees them and then the Pump (on_closed).
        // The async handle is malloc'ed at libuv's size and initialised on
        // this thread; uv_async_send may be called from any thread.
        unsafe {
            if let Some(router) = router {
                let ended = libc::malloc((pump.uv.handle_size)(UV_ASYNC));
                (pump.uv.async_init)(pump.uv_loop, ended, on_context_ended);
                *ended.cast::<*const Uv>() = pump.uv;
                let (uv, ended) = (pump.uv, ended as usize);
                router.close(move || {
                    (uv.async_send)(ended as *mut c_void);
                });
            }
            (pump.uv.poll_stop)(pump.poll);
            (pump.uv.idle_stop)(pump.idle);
            sys::napi_delete_reference(pump.env, pump.callback);
            sys::napi_async_destroy(pump.env, pump.context);
            (pump.uv.close)(pump.poll, on_closed);
            (pump.uv.close)(pump.idle, on_closed);
        }
    }
}

impl NativeRouter {
    /// The Pump, until `close`.
    fn pump(&self) -> Option<&Pump> {
        // Safety: a non-null pointer is a Pump whose handles are open: only
        // `close` starts closing them, and it nulls the pointer first.
        unsafe { self.pump.get().as_ref() }
    }
}

impl Drop for NativeRouter {
    fn drop(&mut self) {
        self.close();
    }
}
