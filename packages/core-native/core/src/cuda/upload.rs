//! Copying host bytes to the device with several threads at once, as a
//! checkpoint's pages are restored: each thread takes an equal share of all
//! the bytes and copies it through its own two pinned slots, a piece at a
//! time: into a small buffer that stays in its core's cache, checksummed
//! there, then into the slot with non-temporal stores (so the bytes checked
//! are the bytes sent). Each part's copy to the device is issued as soon as
//! the part is in its slot, so that the device copies while the threads
//! still fill their slots.
//!
//! Non-temporal stores, because the device reads the slot by DMA, and lines
//! that a core still holds modified must first be fetched out of its cache;
//! streamed past the caches, the slot is in memory when the device reads it
//! (84 MiB: 2.6 ms against 2.9 ms with plain stores, docs/gpu-validation.md,
//! run 47).
//!
//! Equal shares, not whole chunks handed out in turn: one thread copies out
//! of the page cache at about 3 GB/s on the H200 hosts, so the thread with
//! the most bytes decides when the upload ends. Handing out 8 MiB chunks made
//! 11 chunks of an 84 MiB checkpoint for 16 threads, and the upload waited on
//! 8 MiB copied by one thread (docs/gpu-validation.md, runs 42 to 47).

use std::ffi::c_void;

use super::driver::{check, Context, DevicePtr, Driver, Event, Stream};
use crate::error::Result;

/// Bytes in each of a thread's two pinned slots.
pub(super) const SLOT_BYTES: usize = 8 << 20;
/// Each copy to the device carries at most this many bytes: small enough
/// that the device starts copying soon after the threads start, large
/// enough that each copy runs well past its launch cost.
const DMA_PART: usize = 2 << 20;
/// Bytes copied out of the file at a time, into a buffer that stays in the
/// core's cache, checksummed there and then streamed into the slot.
const CRC_PIECE: usize = 128 << 10;
/// No thread is started for less than this: a small page is copied by one.
const MIN_SHARE: usize = 1 << 20;

/// Threads of an upload: one per core, up to 16 (copying out of the page
/// cache is bound by memory bandwidth before that).
pub(super) fn max_threads() -> usize {
    std::thread::available_parallelism().map_or(8, |cores| cores.get().min(16))
}

/// One upload's driver handles and what it copies; the handles are used only
/// while the device's lock is held by the thread that runs the upload.
pub(super) struct Upload<'a> {
    pub context: Context,
    pub stream: Stream,
    /// `2 * SLOT_BYTES` pinned bytes per thread.
    pub slots: *mut u8,
    /// Two events per thread: the last copy out of each of its slots.
    pub events: &'a [Event],
    pub copies: &'a [(DevicePtr, &'a [u8])],
}

// Safety: driver handles are thread-agnostic; each thread writes only its own
// two slots and records only their events.
unsafe impl Sync for Upload<'_> {}

/// `len` bytes at `offset` of copy `copy`.
struct Part {
    copy: usize,
    offset: usize,
    len: usize,
}

impl Upload<'_> {
    /// Copies every copy's bytes, issuing the copies to the device on the
    /// stream; returns each copy's CRC32C. The caller waits for the stream,
    /// whatever the outcome, before the slots are used again.
    pub(super) fn run(&self, driver: &Driver) -> Result<Vec<u32>> {
        let total: usize = self.copies.iter().map(|(_, from)| from.len()).sum();
        let threads = (self.events.len() / 2).min(total.div_ceil(MIN_SHARE)).max(1);
        let results: Vec<Result<Vec<(Part, u32)>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|thread| {
                    scope.spawn(move || self.copy_share(driver, thread, share(self.copies, total, thread, threads)))
                })
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        // The shares follow one another in the order of the bytes, so the
        // parts' checksums combine in order.
        let mut whole = vec![0u32; self.copies.len()];
        for result in results {
            for (part, crc) in result? {
                whole[part.copy] = crate::crc::combine(whole[part.copy], crc, part.len);
            }
        }
        Ok(whole)
    }

    /// Thread `thread` copies `parts` through its two slots; returns each
    /// part with its CRC32C.
    fn copy_share(&self, driver: &Driver, thread: usize, parts: Vec<Part>) -> Result<Vec<(Part, u32)>> {
        // Safety: the context was retained when the device was opened.
        check(
            driver,
            unsafe { (driver.ctx_set_current)(self.context) },
            "cuCtxSetCurrent",
        )?;
        let mut slot = thread * 2;
        let mut used = 0;
        let mut recorded = [false; 2];
        let mut crcs = Vec::with_capacity(parts.len());
        let mut bounce = vec![0u8; CRC_PIECE];
        for part in parts {
            if used + part.len > SLOT_BYTES {
                // Safety: records and waits on the device's own stream's events.
                unsafe {
                    check(
                        driver,
                        (driver.event_record)(self.events[slot], self.stream),
                        "cuEventRecord",
                    )?;
                    recorded[slot % 2] = true;
                    slot ^= 1;
                    used = 0;
                    if recorded[slot % 2] {
                        check(
                            driver,
                            (driver.event_synchronize)(self.events[slot]),
                            "cuEventSynchronize",
                        )?;
                    }
                }
            }
            let (to, from) = self.copies[part.copy];
            let bytes = &from[part.offset..part.offset + part.len];
            // Safety: `used + part.len` bytes fit in slot `slot`, which only
            // this thread writes, and whose last copy to the device is done.
            let into = unsafe { self.slots.add(slot * SLOT_BYTES + used) };
            let mut crc = 0;
            for (index, piece) in bytes.chunks(CRC_PIECE).enumerate() {
                let staged = &mut bounce[..piece.len()];
                staged.copy_from_slice(piece);
                crc = crc32c::crc32c_append(crc, staged);
                // Safety: the piece's place lies inside the part's place in the slot.
                unsafe { stream_into(staged, into.add(index * CRC_PIECE)) };
            }
            store_fence();
            // Safety: the part's slot bytes stay untouched until the slot's
            // event, recorded after this copy, completes.
            check(
                driver,
                unsafe {
                    (driver.memcpy_htod_async)(
                        to + part.offset as u64,
                        into.cast::<c_void>().cast_const(),
                        part.len,
                        self.stream,
                    )
                },
                "cuMemcpyHtoDAsync",
            )?;
            // Parts start 64-byte aligned, as stream_into's stores want.
            used += part.len.next_multiple_of(64);
            crcs.push((part, crc));
        }
        Ok(crcs)
    }
}

/// Copies `from` to `to` with stores that bypass the cache (x86-64; plain
/// copies elsewhere). `to` must be 16-byte aligned; `store_fence` orders
/// the stores before anything the device is told afterwards.
///
/// # Safety
/// `to` must be valid for `from.len()` bytes of writes.
unsafe fn stream_into(from: &[u8], to: *mut u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_loadu_si128, _mm_stream_si128};
        let whole = from.len() & !15;
        for at in (0..whole).step_by(16) {
            _mm_stream_si128(to.add(at).cast(), _mm_loadu_si128(from.as_ptr().add(at).cast()));
        }
        std::ptr::copy_nonoverlapping(from.as_ptr().add(whole), to.add(whole), from.len() - whole);
    }
    #[cfg(not(target_arch = "x86_64"))]
    std::ptr::copy_nonoverlapping(from.as_ptr(), to, from.len());
}

/// Makes `stream_into`'s stores visible before the device is asked to read them.
fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // Safety: a fence has no operands.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

/// Thread `thread`'s share of `threads`: the bytes from `total * thread /
/// threads` to the next share's start (4 KiB-aligned), in parts cut at the
/// copies' ends and every `DMA_PART` bytes.
fn share(copies: &[(DevicePtr, &[u8])], total: usize, thread: usize, threads: usize) -> Vec<Part> {
    let boundary = |thread: usize| {
        if thread == threads {
            total
        } else {
            (total / threads * thread) & !4095
        }
    };
    let (start, end) = (boundary(thread), boundary(thread + 1));
    let mut parts = Vec::new();
    let mut copy_start = 0;
    for (copy, (_, from)) in copies.iter().enumerate() {
        let copy_end = copy_start + from.len();
        let mut at = start.max(copy_start);
        while at < end.min(copy_end) {
            let len = DMA_PART.min(end.min(copy_end) - at);
            parts.push(Part {
                copy,
                offset: at - copy_start,
                len,
            });
            at += len;
        }
        copy_start = copy_end;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte of every copy falls in exactly one part, in order, and the
    /// shares differ by less than 8 KiB plus the remainder the last one takes.
    #[test]
    fn shares_cover_every_byte_once_in_order() {
        for sizes in [
            vec![4 << 20, 16 << 20, 64 << 20],
            vec![1, 0, 5000, 3],
            vec![(1 << 20) + 7; 9],
        ] {
            let pages: Vec<Vec<u8>> = sizes.iter().map(|&len| vec![0; len]).collect();
            let copies: Vec<(DevicePtr, &[u8])> = pages.iter().map(|page| (0, page.as_slice())).collect();
            let total: usize = sizes.iter().sum();
            for threads in [1, 3, 16] {
                let mut next = (0, 0);
                let mut lens = Vec::new();
                for thread in 0..threads {
                    let parts = share(&copies, total, thread, threads);
                    lens.push(parts.iter().map(|part| part.len).sum::<usize>());
                    for part in parts {
                        while next.0 < part.copy {
                            assert_eq!(next.1, sizes[next.0], "copy {} covered to its end", next.0);
                            next = (next.0 + 1, 0);
                        }
                        assert_eq!((part.copy, part.offset), next);
                        assert!(part.len > 0 && part.len <= DMA_PART);
                        next.1 += part.len;
                    }
                }
                assert_eq!(lens.iter().sum::<usize>(), total);
                let (least, most) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
                assert!(most - least < 8192 + total % threads, "{lens:?}");
            }
        }
    }
}
