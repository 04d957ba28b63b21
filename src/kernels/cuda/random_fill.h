// Counter-based random fill on CUDA (bf16, f32 or e4m3): random-weight benchmark models generated
// on the device, and random KV-cache contents for decode benchmarks.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// out[i] = T(mean + half_width * u_i), u_i uniform in [-1, 1) from SplitMix64(seed, i): the
// same values for the same (seed, i) whatever the launch shape (and the f32 fill rounded to bf16
// is the bf16 fill). Grid-stride, memory-bound.
void fill_random_uniform_bf16(cudaStream_t stream, __nv_bfloat16* out, int64_t n, uint64_t seed,
                              float mean, float half_width);
void fill_random_uniform_f32(cudaStream_t stream, float* out, int64_t n, uint64_t seed, float mean,
                             float half_width);
// Rounded to e4m3 as the cache write rounds (nearest even, saturating).
void fill_random_uniform_e4m3(cudaStream_t stream, __nv_fp8_e4m3* out, int64_t n, uint64_t seed,
                              float mean, float half_width);

}  // namespace swiftkv::cuda
