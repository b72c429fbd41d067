//! CUDA for device-resident pages, loaded at run time (driver.rs): the
//! devices and their pools, streams and staging (device.rs), restores copied
//! to the device by several threads (upload.rs, workers.rs), and the delta
//! kernels (kernels.rs, from core/cuda/apply.cu). Without a driver or a
//! device every entry gives `CUDA_UNAVAILABLE`; nothing here is needed to
//! build or test the rest of the core.

mod device;
mod driver;
pub mod kernels;
mod upload;
mod workers;

pub use device::{device, device_count, Device, Pinned};
pub use driver::{available, DevicePtr, DISABLE_VARIABLE};
