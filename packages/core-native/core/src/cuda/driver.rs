//! The CUDA driver API, opened at run time: `libcuda.so.1` is loaded with
//! dlopen on first use and its entry points looked up by name, so nothing
//! CUDA is needed to build, install or test. Where the library or a device is
//! missing, every use fails with `CUDA_UNAVAILABLE` and says why.
//!
//! Only the driver API is used (no runtime library): it is the one library
//! every CUDA machine has, and its versioned symbol names (`_v2`) fix the ABI.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::sync::OnceLock;

use crate::error::{Error, ErrorCode, Result};

pub type CuResult = c_int;
pub type Device = c_int;
pub type Context = *mut c_void;
pub type Stream = *mut c_void;
pub type Module = *mut c_void;
pub type Function = *mut c_void;
pub type MemPool = *mut c_void;
pub type DevicePtr = u64;
pub type Event = *mut c_void;

/// `CUipcMemHandle`: 64 opaque bytes that another process turns into a
/// mapping of the same device memory.
#[repr(C)]
pub struct IpcMemHandle {
    pub reserved: [u8; 64],
}

pub const STREAM_NON_BLOCKING: c_uint = 1;
pub const MEM_ATTACH_GLOBAL: c_uint = 1;
pub const MEMPOOL_ATTR_RELEASE_THRESHOLD: c_int = 4;
pub const HOST_ALLOC_PORTABLE: c_uint = 1;
pub const DEVICE_CPU: Device = -1;
pub const ADVISE_SET_PREFERRED_LOCATION: c_int = 3;
pub const EVENT_DISABLE_TIMING: c_uint = 2;

/// Declares the table of entry points and its loader in one place, so that
/// a name and its signature cannot drift apart.
macro_rules! entry_points {
    ($($field:ident = $symbol:literal : fn($($arg:ty),*);)*) => {
        /// The driver's entry points used by the core.
        #[allow(non_snake_case)]
        pub struct Driver {
            _library: libloading::Library,
            $(pub $field: unsafe extern "C" fn($($arg),*) -> CuResult,)*
        }

        impl Driver {
            fn load() -> std::result::Result<Driver, String> {
                // Safety: loading the CUDA driver runs its initialisers, which
                // have no preconditions.
                let library = unsafe { libloading::Library::new("libcuda.so.1") }
                    .map_err(|error| format!("no CUDA driver library (libcuda.so.1): {error}"))?;
                $(
                    // Safety: the type is the driver API's signature of this symbol.
                    let $field = unsafe {
                        *library
                            .get::<unsafe extern "C" fn($($arg),*) -> CuResult>($symbol)
                            .map_err(|error| format!("the CUDA driver lacks {}: {error}", stringify!($field)))?
                    };
                )*
                Ok(Driver { _library: library, $($field,)* })
            }
        }
    };
}

entry_points! {
    init = b"cuInit\0": fn(c_uint);
    device_get_count = b"cuDeviceGetCount\0": fn(*mut c_int);
    device_get = b"cuDeviceGet\0": fn(*mut Device, c_int);
    primary_ctx_retain = b"cuDevicePrimaryCtxRetain\0": fn(*mut Context, Device);
    ctx_set_current = b"cuCtxSetCurrent\0": fn(Context);
    stream_create = b"cuStreamCreate\0": fn(*mut Stream, c_uint);
    stream_synchronize = b"cuStreamSynchronize\0": fn(Stream);
    default_mem_pool = b"cuDeviceGetDefaultMemPool\0": fn(*mut MemPool, Device);
    mem_pool_set_attribute = b"cuMemPoolSetAttribute\0": fn(MemPool, c_int, *mut c_void);
    mem_alloc_async = b"cuMemAllocAsync\0": fn(*mut DevicePtr, usize, Stream);
    mem_free_async = b"cuMemFreeAsync\0": fn(DevicePtr, Stream);
    mem_alloc_managed = b"cuMemAllocManaged\0": fn(*mut DevicePtr, usize, c_uint);
    mem_free = b"cuMemFree_v2\0": fn(DevicePtr);
    mem_alloc = b"cuMemAlloc_v2\0": fn(*mut DevicePtr, usize);
    ipc_get_mem_handle = b"cuIpcGetMemHandle\0": fn(*mut IpcMemHandle, DevicePtr);
    memcpy_dtod_async = b"cuMemcpyDtoDAsync_v2\0": fn(DevicePtr, DevicePtr, usize, Stream);
    mem_get_info = b"cuMemGetInfo_v2\0": fn(*mut usize, *mut usize);
    mem_host_alloc = b"cuMemHostAlloc\0": fn(*mut *mut c_void, usize, c_uint);
    mem_free_host = b"cuMemFreeHost\0": fn(*mut c_void);
    memcpy_htod_async = b"cuMemcpyHtoDAsync_v2\0": fn(DevicePtr, *const c_void, usize, Stream);
    memcpy_dtoh_async = b"cuMemcpyDtoHAsync_v2\0": fn(*mut c_void, DevicePtr, usize, Stream);
    memcpy_peer_async = b"cuMemcpyPeerAsync\0": fn(DevicePtr, Context, DevicePtr, Context, usize, Stream);
    memset_d8_async = b"cuMemsetD8Async\0": fn(DevicePtr, u8, usize, Stream);
    mem_prefetch_async = b"cuMemPrefetchAsync\0": fn(DevicePtr, usize, Device, Stream);
    mem_advise = b"cuMemAdvise\0": fn(DevicePtr, usize, c_int, Device);
    module_load_data = b"cuModuleLoadData\0": fn(*mut Module, *const c_void);
    module_get_function = b"cuModuleGetFunction\0": fn(*mut Function, Module, *const c_char);
    launch_kernel = b"cuLaunchKernel\0": fn(
        Function, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, c_uint, Stream, *mut *mut c_void, *mut *mut c_void
    );
    get_error_name = b"cuGetErrorName\0": fn(CuResult, *mut *const c_char);
    event_create = b"cuEventCreate\0": fn(*mut Event, c_uint);
    event_record = b"cuEventRecord\0": fn(Event, Stream);
    event_synchronize = b"cuEventSynchronize\0": fn(Event);
}

/// The loaded and initialised driver, or why there is none (kept: the
/// answer does not change during a process's life).
static DRIVER: OnceLock<std::result::Result<Driver, String>> = OnceLock::new();

/// The environment variable that hides the driver from this process (for
/// tests of the no-CUDA paths on a machine with a GPU).
pub const DISABLE_VARIABLE: &str = "MMSB_CUDA_DISABLE";

/// The driver, or `CUDA_UNAVAILABLE` with the reason.
pub fn driver() -> Result<&'static Driver> {
    let loaded = DRIVER.get_or_init(|| {
        if std::env::var_os(DISABLE_VARIABLE).is_some_and(|value| value == "1") {
            return Err(format!("CUDA is disabled by {DISABLE_VARIABLE}=1"));
        }
        let driver = Driver::load()?;
        // Safety: cuInit takes flags 0 and may be called more than once.
        let status = unsafe { (driver.init)(0) };
        if status != 0 {
            return Err(format!("cuInit failed: {}", name_of(&driver, status)));
        }
        Ok(driver)
    });
    loaded
        .as_ref()
        .map_err(|reason| Error::new(ErrorCode::CudaUnavailable, reason.clone()))
}

/// Whether a CUDA driver is loaded and initialised (loading it if need be).
pub fn available() -> bool {
    driver().is_ok()
}

fn name_of(driver: &Driver, status: CuResult) -> String {
    let mut name: *const c_char = std::ptr::null();
    // Safety: cuGetErrorName writes a pointer to a static string or fails.
    if unsafe { (driver.get_error_name)(status, &mut name) } == 0 && !name.is_null() {
        // Safety: the driver's error names are static NUL-terminated strings.
        return unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned();
    }
    format!("CUDA error {status}")
}

/// Turns a driver status into a result; `what` names the call for the message.
/// Out-of-memory is `DEVICE_OUT_OF_MEMORY`; a lost or failed device is `DEVICE_FAILED`.
pub fn check(driver: &Driver, status: CuResult, what: &str) -> Result<()> {
    const OUT_OF_MEMORY: CuResult = 2;
    if status == 0 {
        return Ok(());
    }
    let code = if status == OUT_OF_MEMORY {
        ErrorCode::DeviceOutOfMemory
    } else {
        ErrorCode::DeviceFailed
    };
    Err(Error::new(code, format!("{what}: {}", name_of(driver, status))))
}
