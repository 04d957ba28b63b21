#include <algorithm>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/random_fill.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

template <typename T>
__global__ void fill_random_kernel(T* out, int64_t n, uint64_t seed, float mean, float half_width) {
  const uint64_t key = splitmix64(seed);
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * kThreads) {
    const uint64_t bits = splitmix64(key ^ static_cast<uint64_t>(i));
    // 24 random bits -> [-1, 1).
    const float u = static_cast<float>(bits >> 40) * (2.0F / 16777216.0F) - 1.0F;
    out[i] = from_float<T>(mean + half_width * u);
  }
}

template <typename T>
void launch_fill_random(cudaStream_t stream, T* out, int64_t n, uint64_t seed, float mean,
                        float half_width) {
  if (n == 0) {
    return;
  }
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 132 * 32);
  fill_random_kernel<T>
      <<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(out, n, seed, mean, half_width);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void fill_random_uniform_bf16(cudaStream_t stream, __nv_bfloat16* out, int64_t n, uint64_t seed,
                              float mean, float half_width) {
  launch_fill_random(stream, out, n, seed, mean, half_width);
}

void fill_random_uniform_f32(cudaStream_t stream, float* out, int64_t n, uint64_t seed, float mean,
                             float half_width) {
  launch_fill_random(stream, out, n, seed, mean, half_width);
}

void fill_random_uniform_e4m3(cudaStream_t stream, __nv_fp8_e4m3* out, int64_t n, uint64_t seed,
                              float mean, float half_width) {
  launch_fill_random(stream, out, n, seed, mean, half_width);
}

}  // namespace swiftkv::cuda
