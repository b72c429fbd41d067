//! One CUDA device as the core uses it: its primary context, one stream that
//! orders everything the core does on it, a memory pool, the delta kernels,
//! and pinned staging for payloads.
//!
//! - Page memory comes from the device's default memory pool with its
//!   release threshold at the maximum, so a freed page goes back to the pool
//!   and the next page reuses it: no cudaFree, which synchronises the device.
//! - Payloads reach the device through two pinned staging halves: the host
//!   copies chunk n+1 into one half while chunk n crosses from the other.
//! - Every call binds the device's context to the calling thread first, and
//!   holds the device's lock, so callers on any thread are serialised.

use std::ffi::{c_uint, c_void};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::driver::{self, check, Context, DevicePtr, Driver, Event, Stream};
use super::kernels::Kernels;
use super::upload::Uploader;
use crate::error::{fail, Result};

/// Bytes in each of the two staging halves.
const STAGING_HALF: usize = 8 << 20;

/// One device, shared by every page on it for the life of the process.
pub struct Device {
    ordinal: u32,
    context: Context,
    inner: Mutex<Inner>,
}

struct Inner {
    stream: Stream,
    /// Threads, pinned slots and events for `upload_parallel`, made on first use.
    uploader: Option<Uploader>,
    kernels: Option<Kernels>,
    staging: Option<Pinned>,
    /// Two events: the copy out of each staging half.
    staged: [Event; 2],
    /// Device memory for payloads, grown as needed.
    scratch: Option<(DevicePtr, usize)>,
}

// Safety: the context, stream and event handles are thread-agnostic driver
// handles; every use binds the context and holds `inner`'s lock.
unsafe impl Send for Device {}
unsafe impl Sync for Device {}

/// Pinned (page-locked) host memory, which the device reads and writes by DMA.
pub struct Pinned {
    first: NonNull<u8>,
    len: usize,
}

// Safety: plain memory owned by this value.
unsafe impl Send for Pinned {}
unsafe impl Sync for Pinned {}

impl Pinned {
    pub fn as_ptr(&self) -> *mut u8 {
        self.first.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Ok(driver) = driver::driver() {
            // Safety: allocated by cuMemHostAlloc with the portable flag, so
            // any context may free it; nothing uses it after this.
            unsafe { (driver.mem_free_host)(self.first.as_ptr().cast()) };
        }
    }
}

/// The number of CUDA devices (`CUDA_UNAVAILABLE` without a driver).
pub fn device_count() -> Result<u32> {
    let driver = driver::driver()?;
    let mut count = 0;
    // Safety: writes one int.
    check(
        driver,
        unsafe { (driver.device_get_count)(&mut count) },
        "cuDeviceGetCount",
    )?;
    Ok(count.max(0) as u32)
}

/// The device `ordinal`, set up on first use.
pub fn device(ordinal: u32) -> Result<Arc<Device>> {
    static DEVICES: OnceLock<Mutex<Vec<Option<Arc<Device>>>>> = OnceLock::new();
    let count = device_count()?;
    if count == 0 {
        return fail!(CudaUnavailable, "the CUDA driver is loaded and sees no device");
    }
    if ordinal >= count {
        return fail!(DeviceNotFound, "no CUDA device {ordinal}: this machine has {count}");
    }
    let mut devices = DEVICES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    devices.resize(count as usize, None);
    if let Some(device) = &devices[ordinal as usize] {
        return Ok(Arc::clone(device));
    }
    let device = Arc::new(Device::open(ordinal)?);
    devices[ordinal as usize] = Some(Arc::clone(&device));
    Ok(device)
}

impl Device {
    fn open(ordinal: u32) -> Result<Device> {
        let driver = driver::driver()?;
        let mut handle = 0;
        // Safety: each call writes one handle of the stated type.
        unsafe {
            check(driver, (driver.device_get)(&mut handle, ordinal as i32), "cuDeviceGet")?;
            let mut context = std::ptr::null_mut();
            check(
                driver,
                (driver.primary_ctx_retain)(&mut context, handle),
                "cuDevicePrimaryCtxRetain",
            )?;
            check(driver, (driver.ctx_set_current)(context), "cuCtxSetCurrent")?;
            let mut pool = std::ptr::null_mut();
            check(
                driver,
                (driver.default_mem_pool)(&mut pool, handle),
                "cuDeviceGetDefaultMemPool",
            )?;
            let mut keep_all = u64::MAX;
            check(
                driver,
                (driver.mem_pool_set_attribute)(
                    pool,
                    driver::MEMPOOL_ATTR_RELEASE_THRESHOLD,
                    (&mut keep_all as *mut u64).cast(),
                ),
                "cuMemPoolSetAttribute",
            )?;
            let mut stream = std::ptr::null_mut();
            check(
                driver,
                (driver.stream_create)(&mut stream, driver::STREAM_NON_BLOCKING),
                "cuStreamCreate",
            )?;
            let mut staged = [std::ptr::null_mut(); 2];
            for event in &mut staged {
                check(
                    driver,
                    (driver.event_create)(event, driver::EVENT_DISABLE_TIMING),
                    "cuEventCreate",
                )?;
            }
            Ok(Device {
                ordinal,
                context,
                inner: Mutex::new(Inner {
                    stream,
                    uploader: None,
                    kernels: None,
                    staging: None,
                    staged,
                    scratch: None,
                }),
            })
        }
    }

    pub fn ordinal(&self) -> u32 {
        self.ordinal
    }

    /// Binds the context to this thread and takes the device's lock.
    fn bind(&self) -> Result<(&'static Driver, MutexGuard<'_, Inner>)> {
        let driver = driver::driver()?;
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Safety: the context was retained in `open` and is never released.
        check(
            driver,
            unsafe { (driver.ctx_set_current)(self.context) },
            "cuCtxSetCurrent",
        )?;
        Ok((driver, inner))
    }

    /// `len` zeroed bytes of device memory from the pool.
    pub fn allocate(&self, len: usize) -> Result<DevicePtr> {
        let (driver, inner) = self.bind()?;
        let mut ptr = 0;
        // Safety: stream-ordered allocation and clear on the device's stream.
        unsafe {
            check(
                driver,
                (driver.mem_alloc_async)(&mut ptr, len, inner.stream),
                "cuMemAllocAsync",
            )?;
            check(
                driver,
                (driver.memset_d8_async)(ptr, 0, len, inner.stream),
                "cuMemsetD8Async",
            )?;
        }
        Ok(ptr)
    }

    /// Gives device memory back to the pool.
    pub fn free(&self, ptr: DevicePtr) {
        if let Ok((driver, inner)) = self.bind() {
            // Safety: `ptr` came from `allocate` and nothing uses it after this.
            unsafe { (driver.mem_free_async)(ptr, inner.stream) };
        }
    }

    /// `len` bytes (contents undefined) in a device allocation of their own,
    /// which another process can open through an IPC handle: memory from the
    /// pool cannot be shared that way.
    pub fn allocate_shareable(&self, len: usize) -> Result<DevicePtr> {
        let (driver, _inner) = self.bind()?;
        let mut ptr = 0;
        // Safety: writes one device pointer.
        check(
            driver,
            unsafe { (driver.mem_alloc)(&mut ptr, len.max(1)) },
            "cuMemAlloc",
        )?;
        Ok(ptr)
    }

    /// Frees memory from `allocate_shareable`, once the device's work on it is done.
    pub fn free_shareable(&self, ptr: DevicePtr) {
        if let Ok((driver, inner)) = self.bind() {
            // Safety: `ptr` came from `allocate_shareable`; nothing uses it after this.
            unsafe {
                (driver.stream_synchronize)(inner.stream);
                (driver.mem_free)(ptr);
            }
        }
    }

    /// Copies `len` bytes between two ranges of this device's memory, and waits.
    pub fn copy_within(&self, to: DevicePtr, from: DevicePtr, len: usize) -> Result<()> {
        let (driver, inner) = self.bind()?;
        // Safety: both ranges are `len` bytes of this device's memory.
        unsafe {
            check(
                driver,
                (driver.memcpy_dtod_async)(to, from, len, inner.stream),
                "cuMemcpyDtoDAsync",
            )?;
            check(driver, (driver.stream_synchronize)(inner.stream), "cuStreamSynchronize")
        }
    }

    /// The IPC handle of an allocation from `allocate_shareable` (its first byte).
    pub fn ipc_handle(&self, ptr: DevicePtr) -> Result<[u8; 64]> {
        let (driver, _inner) = self.bind()?;
        let mut handle = driver::IpcMemHandle { reserved: [0; 64] };
        // Safety: writes one handle.
        check(
            driver,
            unsafe { (driver.ipc_get_mem_handle)(&mut handle, ptr) },
            "cuIpcGetMemHandle",
        )?;
        Ok(handle.reserved)
    }

    /// `len` zeroed bytes of managed memory, refused when the device has not
    /// that much free (asking for more can hang the GPU).
    pub fn allocate_managed(&self, len: usize) -> Result<DevicePtr> {
        let (driver, inner) = self.bind()?;
        let (mut free, mut total) = (0, 0);
        // Safety: each call writes the values it is given pointers to.
        unsafe {
            check(driver, (driver.mem_get_info)(&mut free, &mut total), "cuMemGetInfo")?;
            if len > free {
                return fail!(
                    DeviceOutOfMemory,
                    "a unified page of {len} bytes exceeds device {}'s {free} free bytes",
                    self.ordinal
                );
            }
            let mut ptr = 0;
            check(
                driver,
                (driver.mem_alloc_managed)(&mut ptr, len, driver::MEM_ATTACH_GLOBAL),
                "cuMemAllocManaged",
            )?;
            let cleared = check(
                driver,
                (driver.memset_d8_async)(ptr, 0, len, inner.stream),
                "cuMemsetD8Async",
            )
            .and_then(|()| check(driver, (driver.stream_synchronize)(inner.stream), "cuStreamSynchronize"));
            if let Err(error) = cleared {
                (driver.mem_free)(ptr);
                return Err(error);
            }
            Ok(ptr)
        }
    }

    /// Frees managed memory (waits for the device's work on it first).
    pub fn free_managed(&self, ptr: DevicePtr) {
        if let Ok((driver, inner)) = self.bind() {
            // Safety: `ptr` came from `allocate_managed`; nothing uses it after this.
            unsafe {
                (driver.stream_synchronize)(inner.stream);
                (driver.mem_free)(ptr);
            }
        }
    }

    /// Moves managed memory's pages to this device (`to_device`) or to the host.
    pub fn prefetch_managed(&self, ptr: DevicePtr, len: usize, to_device: bool) -> Result<()> {
        let (driver, inner) = self.bind()?;
        let target = if to_device {
            self.ordinal as i32
        } else {
            driver::DEVICE_CPU
        };
        // Safety: `ptr..ptr + len` is one managed allocation.
        unsafe {
            check(
                driver,
                (driver.mem_advise)(ptr, len, driver::ADVISE_SET_PREFERRED_LOCATION, target),
                "cuMemAdvise",
            )?;
            check(
                driver,
                (driver.mem_prefetch_async)(ptr, len, target, inner.stream),
                "cuMemPrefetchAsync",
            )?;
            check(driver, (driver.stream_synchronize)(inner.stream), "cuStreamSynchronize")
        }
    }

    /// `len` bytes of pinned host memory (contents undefined).
    pub fn allocate_pinned(&self, len: usize) -> Result<Pinned> {
        let (driver, _inner) = self.bind()?;
        host_alloc(driver, len)
    }

    /// Copies pinned host bytes to the device and waits.
    pub fn upload_pinned(&self, to: DevicePtr, from: &Pinned) -> Result<()> {
        let (driver, inner) = self.bind()?;
        // Safety: `from` is `from.len` readable bytes, `to` as many writable ones.
        unsafe {
            check(
                driver,
                (driver.memcpy_htod_async)(to, from.as_ptr().cast(), from.len, inner.stream),
                "cuMemcpyHtoD",
            )?;
            check(driver, (driver.stream_synchronize)(inner.stream), "cuStreamSynchronize")
        }
    }

    /// Copies device bytes into pinned host memory and waits.
    pub fn download_pinned(&self, from: DevicePtr, to: &Pinned) -> Result<()> {
        let (driver, inner) = self.bind()?;
        // Safety: as `upload_pinned`, the other way.
        unsafe {
            check(
                driver,
                (driver.memcpy_dtoh_async)(to.as_ptr().cast(), from, to.len, inner.stream),
                "cuMemcpyDtoH",
            )?;
            check(driver, (driver.stream_synchronize)(inner.stream), "cuStreamSynchronize")
        }
    }

    /// Copies `from` (host memory that several threads may read, such as a
    /// mapped checkpoint) to the device memory at `to` (`upload_parallel_many`
    /// with one copy). Returns the CRC32C of `from`.
    pub fn upload_parallel(&self, to: DevicePtr, from: &[u8]) -> Result<u32> {
        Ok(self.upload_parallel_many(&[(to, from)])?[0])
    }

    /// Copies each `(to, from)` pair's host bytes to its device memory in one
    /// pass by up to 16 threads, each taking an equal share of all the bytes
    /// (upload.rs): one pass for all of a checkpoint's pages keeps every
    /// thread busy. Returns each pair's CRC32C, once the device has every byte.
    pub fn upload_parallel_many(&self, copies: &[(DevicePtr, &[u8])]) -> Result<Vec<u32>> {
        let (driver, mut inner) = self.bind()?;
        let inner = &mut *inner;
        if inner.uploader.is_none() {
            inner.uploader = Some(Uploader::new(driver)?);
        }
        let uploader = inner.uploader.as_ref().expect("made above");
        let crcs = uploader.run(driver, self.context, inner.stream, copies);
        // Safety: waits on the device's own stream, after a failed upload
        // too, so that no copy out of the slots is still running.
        let synced = check(
            driver,
            unsafe { (driver.stream_synchronize)(inner.stream) },
            "cuStreamSynchronize",
        );
        let crcs = crcs?;
        synced.map(|()| crcs)
    }

    /// Copies `len` bytes from `from` on device `source` to `to` on this device, and waits.
    pub fn copy_from_peer(&self, to: DevicePtr, source: &Device, from: DevicePtr, len: usize) -> Result<()> {
        let (driver, inner) = self.bind()?;
        // Safety: both ranges are `len` bytes of their devices' memory.
        unsafe {
            check(
                driver,
                (driver.memcpy_peer_async)(to, self.context, from, source.context, len, inner.stream),
                "cuMemcpyPeerAsync",
            )?;
            check(driver, (driver.stream_synchronize)(inner.stream), "cuStreamSynchronize")
        }
    }

    /// Applies a payload to `len` bytes of device memory at `page`: copies its
    /// parts into device scratch (`parts`: scratch offset and bytes), then runs
    /// `launch` with the scratch base, and waits for the device.
    pub(crate) fn run_with_payload(
        &self,
        parts: &[(usize, &[u8])],
        scratch_len: usize,
        launch: impl FnOnce(&Kernels, Stream, DevicePtr) -> Result<()>,
    ) -> Result<()> {
        let (driver, mut inner) = self.bind()?;
        let inner = &mut *inner;
        let scratch = ensure_scratch(driver, inner, scratch_len)?;
        ensure_staging_and_kernels(driver, inner)?;
        stage(driver, inner, scratch, parts)?;
        let kernels = inner.kernels.as_ref().expect("loaded above");
        launch(kernels, inner.stream, scratch)?;
        // Safety: waits on the device's own stream.
        check(
            driver,
            unsafe { (driver.stream_synchronize)(inner.stream) },
            "cuStreamSynchronize",
        )
    }

    /// Allocates now what `run_with_payload` needs for `scratch_len` bytes of
    /// scratch (the scratch, the pinned staging, the kernels), which it then
    /// reuses: a delta reserves before its change is logged.
    pub(crate) fn reserve_payload(&self, scratch_len: usize) -> Result<()> {
        let (driver, mut inner) = self.bind()?;
        let inner = &mut *inner;
        if scratch_len > 0 {
            ensure_scratch(driver, inner, scratch_len)?;
        }
        ensure_staging_and_kernels(driver, inner)
    }

    /// Loads the delta kernels now (a module load compiles the PTX), so that
    /// a timed first apply does not pay for it.
    pub fn load_kernels(&self) -> Result<()> {
        let (driver, mut inner) = self.bind()?;
        ensure_kernels(driver, &mut inner)
    }
}

/// Loads the delta kernels into the bound context, once.
fn ensure_kernels(driver: &Driver, inner: &mut Inner) -> Result<()> {
    if inner.kernels.is_none() {
        inner.kernels = Some(Kernels::load(driver)?);
    }
    Ok(())
}

/// Makes the pinned staging halves and loads the kernels, once: what every
/// payload needs besides its scratch.
fn ensure_staging_and_kernels(driver: &Driver, inner: &mut Inner) -> Result<()> {
    if inner.staging.is_none() {
        inner.staging = Some(host_alloc(driver, 2 * STAGING_HALF)?);
    }
    ensure_kernels(driver, inner)
}

/// The scratch buffer, at least `len` bytes (256-byte aligned, as pool memory is).
/// A larger one is allocated before the old one is freed, and where that fails
/// the old one is freed and the allocation tried again, then the old size
/// restored: another store's delta on this device may have reserved the old
/// scratch and be writing after its change is logged.
fn ensure_scratch(driver: &Driver, inner: &mut Inner, len: usize) -> Result<DevicePtr> {
    let old = inner.scratch;
    if let Some((ptr, have)) = old {
        if have >= len {
            return Ok(ptr);
        }
    }
    let size = len.max(1 << 20).next_power_of_two();
    let stream = inner.stream;
    let allocate = |size: usize| -> Result<DevicePtr> {
        let mut ptr = 0;
        // Safety: writes one device pointer.
        check(
            driver,
            unsafe { (driver.mem_alloc_async)(&mut ptr, size, stream) },
            "cuMemAllocAsync",
        )
        .map(|()| ptr)
    };
    // Safety: the old scratch is not used after this, in stream order.
    let free = |ptr: DevicePtr| unsafe { (driver.mem_free_async)(ptr, stream) };
    let grown = match (allocate(size), old) {
        (Ok(ptr), old) => {
            if let Some((old_ptr, _)) = old {
                free(old_ptr);
            }
            ptr
        }
        (Err(error), None) => return Err(error),
        (Err(error), Some((old_ptr, have))) => {
            free(old_ptr);
            match allocate(size) {
                Ok(ptr) => ptr,
                Err(_) => {
                    inner.scratch = allocate(have).ok().map(|ptr| (ptr, have));
                    return Err(error);
                }
            }
        }
    };
    inner.scratch = Some((grown, size));
    Ok(grown)
}

/// Copies `parts` to `scratch` through the two pinned staging halves
/// (`ensure_staging_and_kernels` made them).
fn stage(driver: &Driver, inner: &mut Inner, scratch: DevicePtr, parts: &[(usize, &[u8])]) -> Result<()> {
    let staging = inner.staging.as_ref().expect("made before staging");
    let mut half = 0;
    let mut used = [false; 2];
    for (offset, bytes) in parts {
        for (index, chunk) in bytes.chunks(STAGING_HALF).enumerate() {
            if used[half] {
                // Safety: the event was recorded after this half's last copy.
                check(
                    driver,
                    unsafe { (driver.event_synchronize)(inner.staged[half]) },
                    "cuEventSynchronize",
                )?;
            }
            // Safety: the half holds STAGING_HALF bytes and no copy reads it now.
            let into = unsafe { staging.as_ptr().add(half * STAGING_HALF) };
            unsafe {
                std::ptr::copy_nonoverlapping(chunk.as_ptr(), into, chunk.len());
                let to = scratch + (offset + index * STAGING_HALF) as u64;
                check(
                    driver,
                    (driver.memcpy_htod_async)(to, into.cast::<c_void>().cast_const(), chunk.len(), inner.stream),
                    "cuMemcpyHtoDAsync",
                )?;
                check(
                    driver,
                    (driver.event_record)(inner.staged[half], inner.stream),
                    "cuEventRecord",
                )?;
            }
            used[half] = true;
            half ^= 1;
        }
    }
    Ok(())
}

/// `len` bytes of pinned host memory; the caller has bound a context.
pub(super) fn host_alloc(driver: &Driver, len: usize) -> Result<Pinned> {
    let mut first = std::ptr::null_mut();
    // Safety: writes one pointer.
    check(
        driver,
        unsafe { (driver.mem_host_alloc)(&mut first, len.max(1), driver::HOST_ALLOC_PORTABLE) },
        "cuMemHostAlloc",
    )?;
    let first = NonNull::new(first.cast::<u8>()).ok_or_else(|| {
        crate::error::Error::new(crate::ErrorCode::DeviceOutOfMemory, "cuMemHostAlloc gave no memory")
    })?;
    Ok(Pinned { first, len })
}

/// The launch shape for `threads` threads in blocks of `block`, the grid capped at `max_blocks`.
pub(crate) fn grid(threads: u64, block: u32, max_blocks: u64) -> c_uint {
    threads.div_ceil(u64::from(block)).clamp(1, max_blocks) as c_uint
}
