//! The delta kernels of core/cuda/apply.cu, loaded from the PTX checked in
//! beside it (tools/gpu/build-ptx.sh rebuilds it; the GPU test run checks it
//! is fresh), and the launches that apply each payload form on the device.

use std::ffi::{c_uint, c_void};

use super::device::{grid, Device};
use super::driver::{check, DevicePtr, Driver, Function, Module, Stream};
use crate::delta::{Payload, RangeWrite};
use crate::error::Result;

/// The PTX, NUL-terminated as cuModuleLoadData wants it.
const PTX: &str = concat!(include_str!("../../cuda/apply.ptx"), "\0");

/// Threads a block for the byte kernels; the sparse kernels assume SPARSE_THREADS (apply.cu).
const THREADS: u32 = 256;
const SPARSE_THREADS: u32 = 256;
const SCAN_THREADS: u32 = 1024;
/// The longest piece of a range write one block copies (apply.cu's RANGE_PIECE).
const RANGE_PIECE: u64 = 32 << 10;
/// Grid-stride kernels need no more blocks than fill the device several times.
const MAX_BLOCKS: u64 = 1 << 16;

pub(crate) struct Kernels {
    _module: Module,
    dense: Function,
    sparse_count: Function,
    scan_offsets: Function,
    sparse_scatter: Function,
    ranges: Function,
}

impl Kernels {
    /// Loads the module into the bound context (the driver compiles the PTX for the card).
    pub(crate) fn load(driver: &Driver) -> Result<Kernels> {
        let mut module = std::ptr::null_mut();
        // Safety: PTX is a NUL-terminated image.
        check(
            driver,
            unsafe { (driver.module_load_data)(&mut module, PTX.as_ptr().cast()) },
            "cuModuleLoadData",
        )?;
        let function = |name: &'static [u8]| -> Result<Function> {
            let mut function = std::ptr::null_mut();
            // Safety: `name` is NUL-terminated; the module was loaded above.
            check(
                driver,
                unsafe { (driver.module_get_function)(&mut function, module, name.as_ptr().cast()) },
                "cuModuleGetFunction",
            )?;
            Ok(function)
        };
        Ok(Kernels {
            dense: function(b"mmsb_dense\0")?,
            sparse_count: function(b"mmsb_sparse_count\0")?,
            scan_offsets: function(b"mmsb_scan_offsets\0")?,
            sparse_scatter: function(b"mmsb_sparse_scatter\0")?,
            ranges: function(b"mmsb_ranges\0")?,
            _module: module,
        })
    }
}

/// Launches `function` on `stream` with `args` (pointers to each argument's value).
fn launch(function: Function, blocks: c_uint, threads: u32, stream: Stream, args: &mut [*mut c_void]) -> Result<()> {
    let driver = super::driver::driver()?;
    // Safety: `args` match the kernel's parameters in apply.cu, in order.
    let status = unsafe {
        (driver.launch_kernel)(
            function,
            blocks,
            1,
            1,
            threads,
            1,
            1,
            0,
            stream,
            args.as_mut_ptr(),
            std::ptr::null_mut(),
        )
    };
    check(driver, status, "cuLaunchKernel")
}

fn arg<T>(value: &mut T) -> *mut c_void {
    (value as *mut T).cast()
}

const fn align(offset: usize) -> usize {
    offset.next_multiple_of(256)
}

/// Where a sparse payload's parts lie in device scratch.
struct SparseLayout {
    words: u64,
    blocks: u64,
    packed_at: usize,
    counts_at: usize,
    scratch_len: usize,
}

impl SparseLayout {
    fn of(mask_len: usize, packed_len: usize) -> SparseLayout {
        let words = (mask_len as u64).div_ceil(4);
        let blocks = words.div_ceil(u64::from(SPARSE_THREADS)).max(1);
        let packed_at = align(mask_len);
        let counts_at = align(packed_at + packed_len);
        SparseLayout {
            words,
            blocks,
            packed_at,
            counts_at,
            scratch_len: counts_at + blocks as usize * 8,
        }
    }
}

/// The table of a ranges payload: (page offset, scratch offset, length) per
/// piece of at most RANGE_PIECE bytes, so that one block copies each piece.
fn range_table(writes: &[RangeWrite<&[u8]>]) -> Vec<u64> {
    let mut pieces: Vec<u64> = Vec::new();
    let mut from = 0u64;
    for write in writes {
        let mut done = 0u64;
        while done < write.bytes.len() as u64 {
            let piece = RANGE_PIECE.min(write.bytes.len() as u64 - done);
            pieces.extend([write.offset + done, from + done, piece]);
            done += piece;
        }
        from += write.bytes.len() as u64;
    }
    pieces
}

/// Pieces of at most RANGE_PIECE bytes that `writes` make (the rows of `range_table`).
fn range_pieces(writes: &[RangeWrite<&[u8]>]) -> usize {
    writes
        .iter()
        .map(|write| (write.bytes.len() as u64).div_ceil(RANGE_PIECE) as usize)
        .sum()
}

/// Device scratch that applying `payload` to a page of `len` bytes uses.
fn scratch_len(len: usize, payload: &Payload<&[u8]>) -> usize {
    match payload {
        Payload::Dense(_) => len,
        Payload::Sparse { mask, packed } => SparseLayout::of(mask.len(), packed.len()).scratch_len,
        Payload::Ranges(writes) => match range_pieces(writes) {
            0 => 0,
            pieces => align(pieces * 3 * 8) + writes.iter().map(|write| write.bytes.len()).sum::<usize>(),
        },
    }
}

/// Makes ready on `device` everything that applying `payload` to a page of
/// `len` bytes allocates (scratch, staging, the kernels), so that the apply,
/// which runs after its change is logged, fails only if the device does.
pub fn reserve(device: &Device, len: usize, payload: &Payload<&[u8]>) -> Result<()> {
    device.reserve_payload(scratch_len(len, payload))
}

/// Applies a validated `payload` to the `len` bytes of device memory at `page`, and waits.
pub fn apply(device: &Device, page: DevicePtr, len: usize, payload: &Payload<&[u8]>) -> Result<()> {
    let scratch_len = scratch_len(len, payload);
    match payload {
        Payload::Dense(bytes) => device.run_with_payload(&[(0, bytes)], scratch_len, |kernels, stream, scratch| {
            let (mut page, mut from, mut len) = (page, scratch, len as u64);
            let blocks = grid(len.div_ceil(16), THREADS, MAX_BLOCKS);
            launch(
                kernels.dense,
                blocks,
                THREADS,
                stream,
                &mut [arg(&mut page), arg(&mut from), arg(&mut len)],
            )
        }),
        Payload::Sparse { mask, packed } => {
            let layout = SparseLayout::of(mask.len(), packed.len());
            device.run_with_payload(
                &[(0, mask), (layout.packed_at, packed)],
                scratch_len,
                |kernels, stream, scratch| {
                    let (mut page, mut len, mut mask_ptr) = (page, len as u64, scratch);
                    let (mut mask_len, mut words, mut blocks_arg) = (mask.len() as u64, layout.words, layout.blocks);
                    let mut packed_ptr = scratch + layout.packed_at as u64;
                    let mut counts = scratch + layout.counts_at as u64;
                    let grid_blocks = layout.blocks as c_uint;
                    launch(
                        kernels.sparse_count,
                        grid_blocks,
                        SPARSE_THREADS,
                        stream,
                        &mut [
                            arg(&mut mask_ptr),
                            arg(&mut mask_len),
                            arg(&mut words),
                            arg(&mut counts),
                        ],
                    )?;
                    launch(
                        kernels.scan_offsets,
                        1,
                        SCAN_THREADS,
                        stream,
                        &mut [arg(&mut counts), arg(&mut blocks_arg)],
                    )?;
                    launch(
                        kernels.sparse_scatter,
                        grid_blocks,
                        SPARSE_THREADS,
                        stream,
                        &mut [
                            arg(&mut page),
                            arg(&mut len),
                            arg(&mut mask_ptr),
                            arg(&mut mask_len),
                            arg(&mut words),
                            arg(&mut packed_ptr),
                            arg(&mut counts),
                        ],
                    )
                },
            )
        }
        Payload::Ranges(writes) => {
            let pieces = range_table(writes);
            let count = pieces.len() as u64 / 3;
            if count == 0 {
                return Ok(());
            }
            let table: Vec<u8> = pieces.iter().flat_map(|value| value.to_le_bytes()).collect();
            let bytes_at = align(table.len());
            let mut parts = vec![(0, table.as_slice())];
            let mut at = bytes_at;
            for write in writes {
                parts.push((at, write.bytes));
                at += write.bytes.len();
            }
            debug_assert_eq!(at, scratch_len, "scratch_len describes this layout");
            device.run_with_payload(&parts, at, |kernels, stream, scratch| {
                let (mut page, mut table_ptr, mut count_arg) = (page, scratch, count);
                let mut bytes_ptr = scratch + bytes_at as u64;
                launch(
                    kernels.ranges,
                    grid(count, 1, MAX_BLOCKS),
                    THREADS,
                    stream,
                    &mut [
                        arg(&mut page),
                        arg(&mut table_ptr),
                        arg(&mut count_arg),
                        arg(&mut bytes_ptr),
                    ],
                )
            })
        }
    }
}
