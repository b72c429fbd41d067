//! The device backends: `device` pages in GPU memory with a host mirror,
//! and `managed` pages in CUDA managed (unified) memory.
//!
//! A `device` page keeps its bytes in device memory from the device's pool
//! and, once something on the host needs them, a pinned host mirror. Its
//! residency says which copies hold the current bytes:
//! - deltas run as kernels on the device copy, which makes the mirror stale;
//! - host reads (`read`, the state hash, checkpoints, a move) first copy the
//!   device bytes into the mirror, by DMA since it is pinned, and keep it
//!   until the next delta;
//! - a host write (restoring a checkpoint, moving a page in) writes the mirror
//!   and makes the device copy stale, and the next delta uploads it first;
//! - a delta allocates before its change is logged (`prepare_write`: the
//!   device copy, the scratch and staging of its payload), so that a device
//!   without the memory refuses it whole and the write after the log can
//!   fail only with the device itself;
//! - `evict` frees the device copy (the mirror keeps the bytes) and
//!   `prefetch` makes it current again.
//!
//! A `managed` page is one managed allocation, which host and device both
//! address: deltas run on the device, host reads read it in place once the
//! device's stream is idle (every apply waits for it), and `prefetch`/`evict`
//! migrate it with the driver's prefetch and advice.

use std::sync::{Arc, Mutex};

use crate::cuda::{kernels, Device, DevicePtr, Pinned};
use crate::delta::Payload;
use crate::error::Result;

/// Which copies of a `device` page hold its current bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Residency {
    /// Device copy and host mirror agree.
    Both,
    /// Only the device copy is current (a delta ran since the last host read).
    Device,
    /// Only the host mirror is current (written on the host, or evicted).
    Host,
}

impl Residency {
    pub const fn as_str(self) -> &'static str {
        match self {
            Residency::Both => "both",
            Residency::Device => "device",
            Residency::Host => "host",
        }
    }
}

pub(crate) struct DevicePage {
    device: Arc<Device>,
    len: usize,
    copies: Mutex<Copies>,
}

struct Copies {
    /// The device copy; `None` once evicted.
    device: Option<DevicePtr>,
    /// The pinned host mirror, made on first host access.
    host: Option<Pinned>,
    residency: Residency,
    /// Whether the device copy is an allocation of its own that another
    /// process can open (`ipc_handle`), rather than pool memory.
    shareable: bool,
}

impl Copies {
    fn new(device: DevicePtr) -> Copies {
        Copies {
            device: Some(device),
            host: None,
            residency: Residency::Device,
            shareable: false,
        }
    }

    /// Gives the device copy back (to the pool, or to the driver when shareable).
    fn free_device(&mut self, device: &Device) {
        if let Some(ptr) = self.device.take() {
            if std::mem::take(&mut self.shareable) {
                device.free_shareable(ptr);
            } else {
                device.free(ptr);
            }
        }
    }
}

impl DevicePage {
    /// `len` zeroed bytes on `device`.
    pub(crate) fn new(device: Arc<Device>, len: usize) -> Result<DevicePage> {
        let ptr = device.allocate(len)?;
        Ok(DevicePage {
            device,
            len,
            copies: Mutex::new(Copies::new(ptr)),
        })
    }

    /// Pages on `device` holding each of `contents`, copied in one pass by
    /// several threads (`Device::upload_parallel_many`); returns them with
    /// the CRC32C of each one's bytes.
    pub(crate) fn restore_many(device: &Arc<Device>, contents: &[&[u8]]) -> Result<Vec<(DevicePage, u32)>> {
        let mut pages = Vec::with_capacity(contents.len());
        for bytes in contents {
            pages.push(DevicePage::new(Arc::clone(device), bytes.len())?);
        }
        let copies: Vec<(DevicePtr, &[u8])> = pages
            .iter_mut()
            .zip(contents)
            .map(|(page, bytes)| {
                let copies = page.copies.get_mut().unwrap_or_else(|e| e.into_inner());
                (copies.device.expect("a new page has device memory"), *bytes)
            })
            .collect();
        let crcs = device.upload_parallel_many(&copies)?;
        Ok(pages.into_iter().zip(crcs).collect())
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn ordinal(&self) -> u32 {
        self.device.ordinal()
    }

    pub(crate) fn residency(&self) -> Residency {
        self.lock().residency
    }

    /// Whether device memory is held for the page (evicted pages hold none).
    pub(crate) fn device_bytes(&self) -> usize {
        if self.lock().device.is_some() {
            self.len
        } else {
            0
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Copies> {
        self.copies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host mirror, current: copied from the device if only it was.
    pub(crate) fn host_bytes(&self) -> Result<*mut u8> {
        let mut copies = self.lock();
        sync_host(&self.device, self.len, &mut copies)
    }

    /// The host mirror for writing: current, and the device copy stale after.
    pub(crate) fn host_bytes_mut(&mut self) -> Result<*mut u8> {
        let copies = self.copies.get_mut().unwrap_or_else(|e| e.into_inner());
        let first = sync_host(&self.device, self.len, copies)?;
        copies.residency = Residency::Host;
        Ok(first)
    }

    /// The device copy, current: allocated and uploaded if only the mirror was.
    fn sync_device(&mut self) -> Result<DevicePtr> {
        let copies = self.copies.get_mut().unwrap_or_else(|e| e.into_inner());
        let ptr = match copies.device {
            Some(ptr) => ptr,
            None => {
                let ptr = self.device.allocate(self.len)?;
                copies.device = Some(ptr);
                ptr
            }
        };
        if copies.residency == Residency::Host {
            let host = copies.host.as_ref().expect("a host-resident page has a mirror");
            self.device.upload_pinned(ptr, host)?;
            copies.residency = Residency::Both;
        }
        Ok(ptr)
    }

    /// Makes the device copy current and reserves what applying `payload`
    /// allocates, so that `apply` after it allocates nothing.
    pub(crate) fn prepare_write(&mut self, payload: &Payload<&[u8]>) -> Result<()> {
        self.sync_device()?;
        kernels::reserve(&self.device, self.len, payload)
    }

    /// Applies a validated payload on the device.
    pub(crate) fn apply(&mut self, payload: &Payload<&[u8]>) -> Result<()> {
        let ptr = self.sync_device()?;
        kernels::apply(&self.device, ptr, self.len, payload)?;
        self.copies.get_mut().unwrap_or_else(|e| e.into_inner()).residency = Residency::Device;
        Ok(())
    }

    /// Makes the device copy current.
    pub(crate) fn prefetch(&mut self) -> Result<()> {
        self.sync_device().map(drop)
    }

    /// Frees the device copy, keeping the bytes in the host mirror.
    pub(crate) fn evict(&mut self) -> Result<()> {
        let copies = self.copies.get_mut().unwrap_or_else(|e| e.into_inner());
        sync_host(&self.device, self.len, copies)?;
        copies.free_device(&self.device);
        copies.residency = Residency::Host;
        Ok(())
    }

    /// Moves the page to `target`: device to device when it is current on
    /// the device, else through the host mirror.
    pub(crate) fn move_to(&mut self, target: Arc<Device>) -> Result<()> {
        if target.ordinal() == self.device.ordinal() {
            return Ok(());
        }
        let copies = self.copies.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(from) = copies.device {
            let to = target.allocate(self.len)?;
            if copies.residency != Residency::Host {
                if let Err(error) = target.copy_from_peer(to, &self.device, from, self.len) {
                    target.free(to);
                    return Err(error);
                }
            }
            copies.free_device(&self.device);
            copies.device = Some(to);
        }
        self.device = target;
        if copies.device.is_some() && copies.residency == Residency::Host {
            self.sync_device()?;
        }
        Ok(())
    }

    /// The device copy's address, current (for zero-copy export).
    pub(crate) fn device_ptr(&mut self) -> Result<DevicePtr> {
        self.sync_device()
    }

    /// An IPC handle of the device copy, current, for another process
    /// (zero-copy export across processes). The first call moves the copy
    /// out of the pool into an allocation of its own, which the handle names
    /// from its first byte; it keeps its address until evicted, moved or freed.
    pub(crate) fn ipc_handle(&mut self) -> Result<[u8; 64]> {
        let ptr = self.sync_device()?;
        let copies = self.copies.get_mut().unwrap_or_else(|e| e.into_inner());
        if !copies.shareable {
            let own = self.device.allocate_shareable(self.len)?;
            if let Err(error) = self.device.copy_within(own, ptr, self.len) {
                self.device.free_shareable(own);
                return Err(error);
            }
            copies.free_device(&self.device);
            copies.device = Some(own);
            copies.shareable = true;
        }
        self.device
            .ipc_handle(copies.device.expect("the shareable copy is held"))
    }
}

fn sync_host(device: &Device, len: usize, copies: &mut Copies) -> Result<*mut u8> {
    if copies.host.is_none() {
        copies.host = Some(device.allocate_pinned(len)?);
    }
    let host = copies.host.as_ref().expect("allocated above");
    if copies.residency == Residency::Device {
        let ptr = copies.device.expect("a device-resident page has device memory");
        device.download_pinned(ptr, host)?;
        copies.residency = Residency::Both;
    }
    Ok(host.as_ptr())
}

impl Drop for DevicePage {
    fn drop(&mut self) {
        self.copies
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .free_device(&self.device);
    }
}

pub(crate) struct ManagedPage {
    device: Arc<Device>,
    ptr: DevicePtr,
    len: usize,
}

impl ManagedPage {
    pub(crate) fn new(device: Arc<Device>, len: usize) -> Result<ManagedPage> {
        let ptr = device.allocate_managed(len)?;
        Ok(ManagedPage { device, ptr, len })
    }

    pub(crate) fn first(&self) -> *mut u8 {
        self.ptr as usize as *mut u8
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn ordinal(&self) -> u32 {
        self.device.ordinal()
    }

    /// Reserves what applying `payload` allocates, so that `apply` allocates nothing.
    pub(crate) fn prepare_write(&self, payload: &Payload<&[u8]>) -> Result<()> {
        kernels::reserve(&self.device, self.len, payload)
    }

    pub(crate) fn apply(&self, payload: &Payload<&[u8]>) -> Result<()> {
        kernels::apply(&self.device, self.ptr, self.len, payload)
    }

    /// Migrates the page to its device (`to_device`) or to the host.
    pub(crate) fn prefetch(&self, to_device: bool) -> Result<()> {
        self.device.prefetch_managed(self.ptr, self.len, to_device)
    }

    pub(crate) fn device_ptr(&self) -> DevicePtr {
        self.ptr
    }
}

impl Drop for ManagedPage {
    fn drop(&mut self) {
        self.device.free_managed(self.ptr);
    }
}
