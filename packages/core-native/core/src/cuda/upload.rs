//! Copying host bytes to the device with several threads at once, as a
//! checkpoint's pages are restored: each thread takes an equal share of all
//! the bytes and copies it through its own two pinned slots, a piece at a
//! time: into a small buffer that stays in its core's cache, checksummed
//! there, then into the slot with non-temporal stores (so the bytes checked
//! are the bytes sent). Each part's copy to the device is issued as soon as
//! the part is in its slot, so that the device copies while the threads
//! still fill their slots. The threads are kept from one upload to the
//! next (workers.rs).
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

use super::device::{host_alloc, Pinned};
use super::driver::{self, check, Context, DevicePtr, Driver, Event, Stream};
use super::workers::Workers;
use crate::error::{fail, Error, ErrorCode, Result};

/// Bytes in each of a thread's two pinned slots.
const SLOT_BYTES: usize = 8 << 20;
/// Each thread's pinned memory: its two slots, then its piece buffer.
const THREAD_BYTES: usize = 2 * SLOT_BYTES + CRC_PIECE;
/// Each copy to the device carries at most this many bytes: small enough
/// that the device starts copying soon after the threads start, large
/// enough that each copy runs well past its launch cost.
const DMA_PART: usize = 2 << 20;
/// Bytes copied out of the file at a time, into a buffer that stays in the
/// core's cache (the thread's own, after its slots), checksummed there and
/// then streamed into the slot.
const CRC_PIECE: usize = 128 << 10;
/// No thread takes part for less than this: a small page is copied by one.
const MIN_SHARE: usize = 1 << 20;

/// Threads of an upload: one per core, up to 16 (16 copy an 84 MiB
/// checkpoint at 2 ms; more would mostly wait on the device's copies).
fn max_threads() -> usize {
    std::thread::available_parallelism().map_or(8, |cores| cores.get().min(16))
}

/// What a device keeps for its uploads, made on its first: the threads,
/// pinned memory for each (`THREAD_BYTES`), and an event per slot.
pub(super) struct Uploader {
    workers: Workers,
    memory: Pinned,
    events: Vec<Event>,
}

impl Uploader {
    pub(super) fn new(driver: &Driver) -> Result<Uploader> {
        let threads = max_threads();
        let memory = host_alloc(driver, threads * THREAD_BYTES)?;
        let mut events = vec![std::ptr::null_mut(); 2 * threads];
        for event in &mut events {
            // Safety: writes one event handle.
            check(
                driver,
                unsafe { (driver.event_create)(event, driver::EVENT_DISABLE_TIMING) },
                "cuEventCreate",
            )?;
        }
        let workers = Workers::start(threads)
            .map_err(|error| Error::new(ErrorCode::DeviceFailed, format!("starting upload threads: {error}")))?;
        Ok(Uploader {
            workers,
            memory,
            events,
        })
    }

    /// Copies each `(to, from)` pair's bytes to its device memory, issuing
    /// the copies on `stream`; returns each pair's CRC32C. The caller waits
    /// for the stream, whatever the outcome, before the next upload.
    pub(super) fn run(
        &self,
        driver: &Driver,
        context: Context,
        stream: Stream,
        copies: &[(DevicePtr, &[u8])],
    ) -> Result<Vec<u32>> {
        let total: usize = copies.iter().map(|(_, from)| from.len()).sum();
        let threads = (total / MIN_SHARE).clamp(1, self.workers.count());
        let upload = Upload {
            context,
            stream,
            memory: self.memory.as_ptr(),
            events: &self.events,
            copies,
        };
        let Some(results) = self.workers.run(threads, |thread| {
            upload.copy_share(driver, thread, share(copies, total, thread, threads))
        }) else {
            return fail!(DeviceFailed, "an upload thread panicked");
        };
        // The shares follow one another in the order of the bytes, so the
        // parts' checksums join in order.
        let mut whole = vec![0u32; copies.len()];
        for copied in results {
            for (part, crc) in copied? {
                whole[part.copy] = crate::crc::combine(whole[part.copy], crc, part.len);
            }
        }
        Ok(whole)
    }
}

/// One upload's driver handles and what it copies; the handles are used only
/// while the device's lock is held by the thread that runs the upload.
struct Upload<'a> {
    context: Context,
    stream: Stream,
    /// `THREAD_BYTES` pinned bytes per thread, page-aligned.
    memory: *mut u8,
    /// Two events per thread: the last copy out of each of its slots.
    events: &'a [Event],
    copies: &'a [(DevicePtr, &'a [u8])],
}

// Safety: driver handles are thread-agnostic; each thread writes only its own
// pinned memory and records only its own slots' events.
unsafe impl Sync for Upload<'_> {}

/// What one thread copied: each part with its CRC32C.
type Copied = Result<Vec<(Part, u32)>>;

/// `len` bytes at `offset` of copy `copy`.
struct Part {
    copy: usize,
    offset: usize,
    len: usize,
}

impl Upload<'_> {
    /// Thread `thread` copies `parts` through its two slots; returns each
    /// part with its CRC32C. On entry no copy out of its memory is running
    /// (the previous upload's caller waited for the stream).
    fn copy_share(&self, driver: &Driver, thread: usize, parts: Vec<Part>) -> Copied {
        // Safety: the context was retained when the device was opened.
        check(
            driver,
            unsafe { (driver.ctx_set_current)(self.context) },
            "cuCtxSetCurrent",
        )?;
        // Safety: the thread's own memory (see `Upload::memory`); the piece
        // buffer lies after its two slots.
        let (own, bounce) = unsafe {
            let own = self.memory.add(thread * THREAD_BYTES);
            (own, std::slice::from_raw_parts_mut(own.add(2 * SLOT_BYTES), CRC_PIECE))
        };
        let places = place(parts.iter().map(|part| part.len));
        let mut crcs = Vec::with_capacity(parts.len());
        for (part, at) in parts.into_iter().zip(places) {
            if let Some(wait) = at.switched {
                // Safety: records and waits on the device's own stream's events.
                unsafe {
                    check(
                        driver,
                        (driver.event_record)(self.events[thread * 2 + (at.half ^ 1)], self.stream),
                        "cuEventRecord",
                    )?;
                    if wait {
                        check(
                            driver,
                            (driver.event_synchronize)(self.events[thread * 2 + at.half]),
                            "cuEventSynchronize",
                        )?;
                    }
                }
            }
            let (to, from) = self.copies[part.copy];
            let bytes = &from[part.offset..part.offset + part.len];
            // Safety: the part fits in slot `at.half` (`place`), which only
            // this thread writes, and no copy out of that place is running.
            let into = unsafe { own.add(at.half * SLOT_BYTES + at.offset) };
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
            crcs.push((part, crc));
        }
        Ok(crcs)
    }
}

/// Where a part goes in its thread's two slots.
struct Place {
    half: usize,
    offset: usize,
    /// Set when the part opens slot `half`: the other slot's event is to be
    /// recorded (after its parts' copies), and, if true, slot `half`'s
    /// event waited for (its earlier parts' copies are still in flight).
    switched: Option<bool>,
}

/// The places of parts of `lens` bytes (each at most `SLOT_BYTES`): one
/// after another in a slot, each 64-byte aligned as `stream_into` wants,
/// then in the other slot once one does not fit.
fn place(lens: impl Iterator<Item = usize>) -> Vec<Place> {
    let (mut half, mut used, mut recorded) = (0, 0, [false; 2]);
    lens.map(|len| {
        let mut switched = None;
        if used + len > SLOT_BYTES {
            recorded[half] = true;
            half ^= 1;
            used = 0;
            switched = Some(recorded[half]);
        }
        let offset = used;
        used += len.next_multiple_of(64);
        Place { half, offset, switched }
    })
    .collect()
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
/// threads` to the next share's start, in parts cut at the copies' ends and
/// every `DMA_PART` bytes.
fn share(copies: &[(DevicePtr, &[u8])], total: usize, thread: usize, threads: usize) -> Vec<Part> {
    let boundary = |thread: usize| (total as u128 * thread as u128 / threads as u128) as usize;
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

    /// Simulates the events: a part's place never overlaps a part placed
    /// earlier in the same slot whose copy may still be in flight (copies
    /// issued since that slot's last wait), and lies in its slot, aligned.
    #[test]
    fn no_part_is_placed_over_a_copy_in_flight() {
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        let mut next = || rng.next();
        for _ in 0..200 {
            let lens: Vec<usize> = (0..next() % 60)
                .map(|_| match next() % 4 {
                    0 => DMA_PART,
                    1 => 1 + next() as usize % 100,
                    _ => 1 + next() as usize % DMA_PART,
                })
                .collect();
            let mut in_flight: [Vec<(usize, usize)>; 2] = [Vec::new(), Vec::new()];
            let mut recorded = [false; 2];
            for (len, at) in lens.iter().zip(place(lens.iter().copied())) {
                if let Some(wait) = at.switched {
                    recorded[at.half ^ 1] = true;
                    assert_eq!(wait, recorded[at.half], "waits exactly when the slot was used before");
                    if wait {
                        in_flight[at.half].clear();
                    }
                }
                let (start, end) = (at.offset, at.offset + len);
                assert!(end <= SLOT_BYTES && start % 64 == 0);
                for &(from, to) in &in_flight[at.half] {
                    assert!(
                        end <= from || start >= to,
                        "[{start}, {end}) over [{from}, {to}) in flight"
                    );
                }
                in_flight[at.half].push((start, end));
            }
        }
    }

    /// Every byte lands, from any source alignment and with any tail.
    #[test]
    fn streamed_bytes_equal_their_source() {
        let source: Vec<u8> = (0..4200u32).map(|index| (index * 31 + 7) as u8).collect();
        for start in 0..17 {
            for len in (0..48).chain([1000, 4096, 4183 - start]) {
                let from = &source[start..start + len];
                // u128 elements: 16-byte aligned, as stream_into wants.
                let mut into = vec![0u128; len.div_ceil(16) + 1];
                // Safety: `into` holds at least `len` bytes.
                unsafe { stream_into(from, into.as_mut_ptr().cast()) };
                store_fence();
                // Safety: reads back the `len` bytes written.
                let written = unsafe { std::slice::from_raw_parts(into.as_ptr().cast::<u8>(), len) };
                assert_eq!(written, from, "from {start}, {len} bytes");
            }
        }
    }

    /// Every byte of every copy falls in exactly one part, in order, and the
    /// shares differ by at most a byte.
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
                assert!(most - least <= 1, "{lens:?}");
            }
        }
    }
}
