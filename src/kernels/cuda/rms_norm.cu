#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 256;

// Sum of `value` over the block; every thread gets the total. Called once per block (warp_sums
// is not reused). Every warp reduces the same per-warp partials itself, so no thread writes
// shared memory after the barrier (an earlier version had warp 0 overwrite warp_sums[0] while
// other warps could still be reading it: a race compute-sanitizer's racecheck reported).
__device__ float block_sum(float value) {
  __shared__ float warp_sums[kThreads / 32];
  for (int offset = 16; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(0xffffffffU, value, offset);
  }
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (lane == 0) {
    warp_sums[warp] = value;
  }
  __syncthreads();
  value = lane < kThreads / 32 ? warp_sums[lane] : 0.0F;
  for (int offset = 16; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(0xffffffffU, value, offset);
  }
  return value;
}

template <typename T>
__global__ void rms_norm_kernel(T* out, const T* x, const T* weight, int64_t hidden_size,
                                float eps) {
  const T* row = x + blockIdx.x * hidden_size;
  T* out_row = out + blockIdx.x * hidden_size;
  float sum_squares = 0.0F;
  for (int64_t i = threadIdx.x; i < hidden_size; i += kThreads) {
    const float v = to_float(row[i]);
    sum_squares += v * v;
  }
  const float inv_rms = rsqrtf(block_sum(sum_squares) / static_cast<float>(hidden_size) + eps);
  for (int64_t i = threadIdx.x; i < hidden_size; i += kThreads) {
    out_row[i] = from_float<T>(to_float(row[i]) * inv_rms * to_float(weight[i]));
  }
}

template <typename T>
void launch_rms_norm(cudaStream_t stream, T* out, const T* x, const T* weight, int64_t num_tokens,
                     int64_t hidden_size, float eps) {
  if (num_tokens == 0) {
    return;
  }
  rms_norm_kernel<T><<<static_cast<unsigned>(num_tokens), kThreads, 0, stream>>>(out, x, weight,
                                                                                 hidden_size, eps);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void rms_norm_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* x,
                   const __nv_bfloat16* weight, int64_t num_tokens, int64_t hidden_size,
                   float eps) {
  launch_rms_norm(stream, out, x, weight, num_tokens, hidden_size, eps);
}

void rms_norm_f32(cudaStream_t stream, float* out, const float* x, const float* weight,
                  int64_t num_tokens, int64_t hidden_size, float eps) {
  launch_rms_norm(stream, out, x, weight, num_tokens, hidden_size, eps);
}

}  // namespace swiftkv::cuda
