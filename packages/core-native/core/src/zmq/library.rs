//! libzmq, opened at run time: `libzmq.so.5` is loaded with dlopen on first
//! use, so the addon builds, installs and loads without it. Where it is
//! missing, [`library`] says why, and the bridge serves through zeromq.js.

use std::ffi::{c_char, c_int, c_short, c_void, CStr};
use std::sync::OnceLock;

pub const ROUTER: c_int = 6;
pub const DEALER: c_int = 5;
pub const DONTWAIT: c_int = 1;
pub const SNDMORE: c_int = 2;
pub const LINGER: c_int = 17;
pub const MAXMSGSIZE: c_int = 22;
pub const SNDHWM: c_int = 23;
pub const RCVMORE: c_int = 13;
pub const LAST_ENDPOINT: c_int = 32;
pub const POLLIN: c_short = 1;
pub const EINTR: c_int = libc::EINTR;

/// `zmq_msg_t`: 64 opaque bytes, aligned as libzmq's own declaration.
#[repr(C, align(8))]
pub struct Message {
    _opaque: [u8; 64],
}

impl Message {
    pub fn empty() -> Message {
        Message { _opaque: [0; 64] }
    }
}

/// Declares the entry points and their loader in one place, so that a name
/// and its signature cannot drift apart.
macro_rules! entry_points {
    ($($field:ident = $symbol:literal : fn($($arg:ty),*) -> $ret:ty;)*) => {
        /// The libzmq entry points the bridge's router uses.
        pub struct Library {
            _library: libloading::Library,
            $(pub $field: unsafe extern "C" fn($($arg),*) -> $ret,)*
        }

        impl Library {
            fn load() -> std::result::Result<Library, String> {
                // Safety: loading libzmq runs its initialisers, which have no preconditions.
                let library = unsafe { libloading::Library::new("libzmq.so.5") }
                    .map_err(|error| format!("no libzmq (libzmq.so.5): {error}"))?;
                $(
                    // Safety: the type is libzmq's signature of this symbol.
                    let $field = unsafe {
                        *library
                            .get::<unsafe extern "C" fn($($arg),*) -> $ret>($symbol)
                            .map_err(|error| format!("libzmq lacks {}: {error}", stringify!($field)))?
                    };
                )*
                Ok(Library { _library: library, $($field,)* })
            }
        }
    };
}

entry_points! {
    ctx_new = b"zmq_ctx_new\0": fn() -> *mut c_void;
    ctx_term = b"zmq_ctx_term\0": fn(*mut c_void) -> c_int;
    socket = b"zmq_socket\0": fn(*mut c_void, c_int) -> *mut c_void;
    close = b"zmq_close\0": fn(*mut c_void) -> c_int;
    bind = b"zmq_bind\0": fn(*mut c_void, *const c_char) -> c_int;
    connect = b"zmq_connect\0": fn(*mut c_void, *const c_char) -> c_int;
    setsockopt = b"zmq_setsockopt\0": fn(*mut c_void, c_int, *const c_void, usize) -> c_int;
    getsockopt = b"zmq_getsockopt\0": fn(*mut c_void, c_int, *mut c_void, *mut usize) -> c_int;
    msg_init = b"zmq_msg_init\0": fn(*mut Message) -> c_int;
    msg_init_size = b"zmq_msg_init_size\0": fn(*mut Message, usize) -> c_int;
    msg_data = b"zmq_msg_data\0": fn(*mut Message) -> *mut c_void;
    msg_size = b"zmq_msg_size\0": fn(*const Message) -> usize;
    msg_close = b"zmq_msg_close\0": fn(*mut Message) -> c_int;
    msg_recv = b"zmq_msg_recv\0": fn(*mut Message, *mut c_void, c_int) -> c_int;
    msg_send = b"zmq_msg_send\0": fn(*mut Message, *mut c_void, c_int) -> c_int;
    send = b"zmq_send\0": fn(*mut c_void, *const c_void, usize, c_int) -> c_int;
    recv = b"zmq_recv\0": fn(*mut c_void, *mut c_void, usize, c_int) -> c_int;
    errno = b"zmq_errno\0": fn() -> c_int;
    strerror = b"zmq_strerror\0": fn(c_int) -> *const c_char;
}

// Safety: the table holds function pointers into a library that is never
// unloaded; libzmq's functions may be called from any thread.
unsafe impl Send for Library {}
unsafe impl Sync for Library {}

static LIBRARY: OnceLock<std::result::Result<Library, String>> = OnceLock::new();

/// libzmq, or why it cannot be used (kept: the answer does not change
/// during a process's life).
pub fn library() -> std::result::Result<&'static Library, &'static str> {
    LIBRARY.get_or_init(Library::load).as_ref().map_err(String::as_str)
}

impl Library {
    /// The last error of the calling thread, as libzmq words it.
    pub fn last_error(&self) -> (c_int, String) {
        // Safety: zmq_errno and zmq_strerror have no preconditions; the
        // string is static in libzmq.
        unsafe {
            let code = (self.errno)();
            (
                code,
                CStr::from_ptr((self.strerror)(code)).to_string_lossy().into_owned(),
            )
        }
    }
}
