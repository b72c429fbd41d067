// Device apply throughput against a device-to-device memcpy (tools/bench/gpu/run.sh builds and
// runs it on the GPU machine with nvcc): the kernels of core/cuda/apply.cu, launched as
// core/src/cuda/kernels.rs launches them, on a 64 MiB page whose payload is already on the
// device, timed with CUDA events (median of 20 after 3 warm-ups), and a copy of the page into
// pinned host memory (the read-back's baseline). Prints one JSON object.
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "../../../packages/core-native/core/cuda/apply.cu"

#define CHECK(call)                                                                   \
    do {                                                                              \
        cudaError_t status = (call);                                                  \
        if (status != cudaSuccess) {                                                  \
            fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(status));           \
            return 1;                                                                 \
        }                                                                             \
    } while (0)

static unsigned grid(u64 threads, unsigned block, u64 max_blocks)
{
    u64 blocks = (threads + block - 1) / block;
    return (unsigned)std::max<u64>(1, std::min(blocks, max_blocks));
}

template <typename Launch>
static float median_ms(Launch launch)
{
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    std::vector<float> times;
    for (int run = 0; run < 23; run++) {
        cudaEventRecord(start);
        launch();
        cudaEventRecord(stop);
        cudaEventSynchronize(stop);
        float ms = 0;
        cudaEventElapsedTime(&ms, start, stop);
        if (run >= 3) times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

int main()
{
    const u64 len = 64ull << 20;
    const u64 mask_len = len / 8, words = (mask_len + 3) / 4, blocks = (words + 255) / 256;
    std::mt19937_64 rng(10);
    std::vector<u8> mask(mask_len, 0);
    u64 set = 0;
    for (u64 i = 0; i < len; i++) {
        if (rng() % 10 == 0) {
            mask[i / 8] |= 1 << (i % 8);
            set++;
        }
    }
    u8 *page, *payload, *mask_d, *packed;
    u64* counts;
    CHECK(cudaMalloc(&page, len));
    CHECK(cudaMalloc(&payload, len));
    CHECK(cudaMalloc(&mask_d, mask_len));
    CHECK(cudaMalloc(&packed, set));
    CHECK(cudaMalloc(&counts, blocks * 8));
    CHECK(cudaMemset(payload, 7, len));
    CHECK(cudaMemset(packed, 9, set));
    CHECK(cudaMemcpy(mask_d, mask.data(), mask_len, cudaMemcpyHostToDevice));
    float copy = median_ms([&] { cudaMemcpyAsync(page, payload, len, cudaMemcpyDeviceToDevice); });
    float dense = median_ms([&] { mmsb_dense<<<grid(len / 16, 256, 1 << 16), 256>>>(page, payload, len); });
    float sparse = median_ms([&] {
        mmsb_sparse_count<<<blocks, 256>>>(mask_d, mask_len, words, counts);
        mmsb_scan_offsets<<<1, 1024>>>(counts, blocks);
        mmsb_sparse_scatter<<<blocks, 256>>>(page, len, mask_d, mask_len, words, packed, counts);
    });
    // The baseline of MMSB's read-back (a device page copied into its pinned host mirror).
    u8* pinned;
    CHECK(cudaMallocHost(&pinned, len));
    float to_host = median_ms([&] { cudaMemcpyAsync(pinned, page, len, cudaMemcpyDeviceToHost); });
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    double gb = len / 1e9;
    printf("{\"page_bytes\":%llu,\"memcpy_d2d_ms\":%.4f,\"memcpy_d2d_gbps\":%.1f,\"dense_ms\":%.4f,\"dense_gbps\":%.1f,"
           "\"dense_vs_memcpy\":%.2f,\"sparse10_ms\":%.4f,\"sparse10_page_gbps\":%.1f,\"sparse10_vs_memcpy\":%.2f,"
           "\"memcpy_d2h_pinned_ms\":%.4f,\"memcpy_d2h_pinned_gbps\":%.1f}\n",
           (unsigned long long)len, copy, gb / (copy / 1e3), dense, gb / (dense / 1e3), copy / dense, sparse,
           gb / (sparse / 1e3), copy / sparse, to_host, gb / (to_host / 1e3));
    return 0;
}
