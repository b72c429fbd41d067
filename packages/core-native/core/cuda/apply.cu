// Delta kernels for device-resident pages (core/src/cuda/kernels.rs launches them).
//
// The three delta forms of core/src/delta/, applied to a page in device
// memory from a payload already copied to the device:
// - mmsb_dense: the payload replaces the page;
// - mmsb_sparse_count, mmsb_scan_offsets, mmsb_sparse_scatter: a bit mask
//   (bit i % 8 of byte i / 8 covers page byte i) and the bytes of its set
//   bits, packed in page order. Each thread owns 32 page bytes (4 mask
//   bytes); the packed index of its first set bit is the number of set bits
//   before it, found by a per-block count, one scan over the blocks, and a
//   scan inside each block; it merges its set bytes into its 32 page bytes
//   in registers and writes them back as two 16-byte vectors;
// - mmsb_ranges: pieces (page offset, payload offset, length) of at most
//   RANGE_PIECE bytes each (the host splits longer writes), one block a piece.
//
// Built to PTX with tools/gpu/build-ptx.sh; the PTX is checked in next to this
// file and loaded by the driver at run time, so no CUDA is needed to build.

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define SPARSE_THREADS 256
#define SCAN_THREADS 1024

// The 32-bit mask word `w` (mask bytes 4w..4w+3, little-endian), zero past the mask's end.
__device__ static u32 mask_word(const u8* mask, u64 mask_len, u64 w)
{
    u64 first = w * 4;
    if (first + 4 <= mask_len) {
        return ((const u32*)mask)[w];
    }
    u32 word = 0;
    for (u64 k = 0; first + k < mask_len; k++) {
        word |= (u32)mask[first + k] << (8 * k);
    }
    return word;
}

// Per-warp sums of block_exclusive_scan. At file scope with external linkage,
// so that its PTX name does not depend on where nvcc was run (a function's
// static gets a path-derived name, which would make the PTX check flaky).
__shared__ u64 mmsb_warp_sums[32];

// Exclusive prefix sum of `value` over the block; `total` gets the block's sum.
__device__ static u64 block_exclusive_scan(u64 value, u64* total)
{
    u64* warp_sums = mmsb_warp_sums;
    unsigned lane = threadIdx.x & 31;
    unsigned warp = threadIdx.x >> 5;
    unsigned warps = blockDim.x >> 5;
    u64 inclusive = value;
    for (unsigned offset = 1; offset < 32; offset <<= 1) {
        u64 other = __shfl_up_sync(0xffffffffu, inclusive, offset);
        if (lane >= offset) {
            inclusive += other;
        }
    }
    if (lane == 31) {
        warp_sums[warp] = inclusive;
    }
    __syncthreads();
    if (warp == 0) {
        u64 sum = lane < warps ? warp_sums[lane] : 0;
        for (unsigned offset = 1; offset < 32; offset <<= 1) {
            u64 other = __shfl_up_sync(0xffffffffu, sum, offset);
            if (lane >= offset) {
                sum += other;
            }
        }
        warp_sums[lane] = sum;
    }
    __syncthreads();
    u64 before = (warp == 0 ? 0 : warp_sums[warp - 1]) + inclusive - value;
    *total = warp_sums[warps - 1];
    // The next call in the same block reuses warp_sums.
    __syncthreads();
    return before;
}

extern "C" __global__ void mmsb_dense(u8* page, const u8* payload, u64 len)
{
    u64 first = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u64 stride = (u64)gridDim.x * blockDim.x;
    u64 vectors = len / 16;
    // Pages and payload staging are 256-byte aligned allocations.
    const uint4* from = (const uint4*)payload;
    uint4* to = (uint4*)page;
    for (u64 i = first; i < vectors; i += stride) {
        to[i] = from[i];
    }
    for (u64 i = vectors * 16 + first; i < len; i += stride) {
        page[i] = payload[i];
    }
}

// block_counts[b] = set bits in the mask words of block b (SPARSE_THREADS words a block).
extern "C" __global__ void mmsb_sparse_count(const u8* mask, u64 mask_len, u64 words, u64* block_counts)
{
    u64 w = (u64)blockIdx.x * SPARSE_THREADS + threadIdx.x;
    u64 bits = w < words ? (u64)__popc(mask_word(mask, mask_len, w)) : 0;
    u64 total;
    block_exclusive_scan(bits, &total);
    if (threadIdx.x == 0) {
        block_counts[blockIdx.x] = total;
    }
}

// One block of SCAN_THREADS: replaces counts[0..n] by their exclusive prefix sums.
extern "C" __global__ void mmsb_scan_offsets(u64* counts, u64 n)
{
    u64 carry = 0;
    for (u64 first = 0; first < n; first += SCAN_THREADS) {
        u64 i = first + threadIdx.x;
        u64 value = i < n ? counts[i] : 0;
        u64 total;
        u64 before = block_exclusive_scan(value, &total);
        if (i < n) {
            counts[i] = carry + before;
        }
        carry += total;
    }
}

extern "C" __global__ void mmsb_sparse_scatter(u8* page, u64 len, const u8* mask, u64 mask_len, u64 words,
                                               const u8* packed, const u64* block_offsets)
{
    u64 w = (u64)blockIdx.x * SPARSE_THREADS + threadIdx.x;
    u32 word = w < words ? mask_word(mask, mask_len, w) : 0;
    u64 total;
    u64 next = block_offsets[blockIdx.x] + block_exclusive_scan((u64)__popc(word), &total);
    u64 base = w * 32;
    if (word == 0) {
        return;
    }
    if (base + 32 <= len) {
        // A whole 32-byte piece (32-byte aligned: pages are 256-byte aligned
        // allocations): read it as two vectors unless every byte is replaced,
        // merge the set bytes in registers (the loop unrolls, so every index
        // is a constant), and write it back as two vectors.
        uint4* piece = (uint4*)(page + base);
        uint4 halves[2] = {make_uint4(0, 0, 0, 0), make_uint4(0, 0, 0, 0)};
        if (word != 0xffffffffu) {
            halves[0] = piece[0];
            halves[1] = piece[1];
        }
        u32* lanes = (u32*)halves;
#pragma unroll
        for (int bit = 0; bit < 32; bit++) {
            if (word & (1u << bit)) {
                u32 shift = 8 * (bit % 4);
                lanes[bit / 4] = (lanes[bit / 4] & ~(0xffu << shift)) | ((u32)packed[next] << shift);
                next++;
            }
        }
        piece[0] = halves[0];
        piece[1] = halves[1];
        return;
    }
    while (word != 0) {
        u64 bit = (u64)(__ffs(word) - 1);
        if (base + bit < len) {
            page[base + bit] = packed[next];
        }
        next++;
        word &= word - 1;
    }
}

// pieces: count triples (page offset, payload offset, length).
extern "C" __global__ void mmsb_ranges(u8* page, const u64* pieces, u64 count, const u8* payload)
{
    for (u64 p = blockIdx.x; p < count; p += gridDim.x) {
        u64 to = pieces[3 * p];
        u64 from = pieces[3 * p + 1];
        u64 len = pieces[3 * p + 2];
        for (u64 i = threadIdx.x; i < len; i += blockDim.x) {
            page[to + i] = payload[from + i];
        }
    }
}
