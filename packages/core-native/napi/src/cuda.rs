//! CUDA: whether it is loaded, the process's fallback choice, and a page's
//! residency (device, prefetch, evict, moves between devices, device pointers, IPC handles).

use mmsb_core::cuda;
use mmsb_core::page_memory::{self, cuda_fallbacks};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::convert::{fail, to_u64, Result};
use crate::state::NativeState;

/// What this process sees of CUDA.
#[napi(object)]
pub struct CudaInfo {
    pub available: bool,
    /// Devices the driver sees (0 without CUDA).
    pub devices: u32,
    /// Why CUDA is unavailable; `None` when it is available.
    pub reason: Option<String>,
    /// Pages given heap memory for want of CUDA (`setCudaFallback(true)`).
    pub fallbacks: f64,
}

#[napi]
pub fn cuda_info() -> CudaInfo {
    let devices = cuda::device_count();
    CudaInfo {
        available: devices.is_ok(),
        devices: *devices.as_ref().unwrap_or(&0),
        reason: devices.err().map(|error| error.message),
        fallbacks: cuda_fallbacks() as f64,
    }
}

/// Without CUDA, give `gpu` and `unified` pages heap memory instead of
/// refusing them (process-wide; recovery follows it too).
#[napi]
pub fn set_cuda_fallback(fallback: bool) {
    page_memory::set_cuda_fallback(fallback);
}

/// Where a page's bytes are.
#[napi(object)]
pub struct Residency {
    pub memory: String,
    /// The CUDA device of a device or managed page.
    pub device: Option<u32>,
    /// For a device page, which copies are current: `device`, `host` or `both`.
    pub current: Option<String>,
    /// Device memory the page holds now.
    pub device_bytes: f64,
}

/// A page's device memory for zero-copy use (see @mmsb/gpu's `exportDevice`).
#[napi(object)]
pub struct DevicePointer {
    /// The device address, as a decimal string (it may exceed 2^53).
    pub pointer: String,
    pub size: f64,
    pub device: u32,
}

#[napi]
impl NativeState {
    /// The device that new device and managed pages go to.
    #[napi]
    pub fn set_device(&mut self, ordinal: u32) -> Result<()> {
        self.store.set_device(ordinal).map_err(fail)
    }

    #[napi]
    pub fn residency(&mut self, id: f64) -> Result<Residency> {
        let id = to_u64(id, "page id")?;
        let memory = self.store.page_memory_of(id).map_err(fail)?;
        Ok(Residency {
            memory: memory.kind().as_str().to_owned(),
            device: memory.device_ordinal(),
            current: memory.residency().map(|residency| residency.as_str().to_owned()),
            device_bytes: memory.device_bytes() as f64,
        })
    }

    /// Makes a device page's device copy current (a managed page migrates to its device).
    #[napi]
    pub fn prefetch_page(&mut self, id: f64) -> Result<()> {
        let id = to_u64(id, "page id")?;
        self.store
            .page_memory_of(id)
            .and_then(|memory| memory.prefetch())
            .map_err(fail)
    }

    /// Frees a device page's device copy, keeping its bytes on the host.
    #[napi]
    pub fn evict_page(&mut self, id: f64) -> Result<()> {
        let id = to_u64(id, "page id")?;
        self.store
            .page_memory_of(id)
            .and_then(|memory| memory.evict())
            .map_err(fail)
    }

    /// Moves a device page to another device.
    #[napi]
    pub fn move_page_to_device(&mut self, id: f64, ordinal: u32) -> Result<()> {
        let id = to_u64(id, "page id")?;
        self.store
            .page_memory_of(id)
            .and_then(|memory| memory.move_to_device(ordinal))
            .map_err(fail)
    }

    /// A CUDA IPC handle (64 bytes) of a device page's current bytes, for
    /// another process on this machine.
    #[napi]
    pub fn ipc_handle(&mut self, id: f64) -> Result<Buffer> {
        let id = to_u64(id, "page id")?;
        let memory = self.store.page_memory_of(id).map_err(fail)?;
        Ok(memory.ipc_handle().map_err(fail)?.to_vec().into())
    }

    /// The device address of a page's current bytes.
    #[napi]
    pub fn device_pointer(&mut self, id: f64) -> Result<DevicePointer> {
        let id = to_u64(id, "page id")?;
        let memory = self.store.page_memory_of(id).map_err(fail)?;
        let pointer = memory.device_ptr().map_err(fail)?;
        Ok(DevicePointer {
            pointer: pointer.to_string(),
            size: memory.len() as f64,
            device: memory.device_ordinal().unwrap_or(0),
        })
    }
}
