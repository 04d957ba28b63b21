#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/rms_norm.h"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 256;

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
  if (warp == 0) {
    for (int offset = 16; offset > 0; offset /= 2) {
      value += __shfl_xor_sync(0xffffffffU, value, offset);
    }
    if (lane == 0) {
      warp_sums[0] = value;
    }
  }
  __syncthreads();
  return warp_sums[0];
}

__global__ void rms_norm_kernel(__nv_bfloat16* out, const __nv_bfloat16* x,
                                const __nv_bfloat16* weight, int64_t hidden_size, float eps) {
  const __nv_bfloat16* row = x + blockIdx.x * hidden_size;
  __nv_bfloat16* out_row = out + blockIdx.x * hidden_size;
  float sum_squares = 0.0F;
  for (int64_t i = threadIdx.x; i < hidden_size; i += kThreads) {
    const float v = __bfloat162float(row[i]);
    sum_squares += v * v;
  }
  const float inv_rms = rsqrtf(block_sum(sum_squares) / static_cast<float>(hidden_size) + eps);
  for (int64_t i = threadIdx.x; i < hidden_size; i += kThreads) {
    out_row[i] = __float2bfloat16(__bfloat162float(row[i]) * inv_rms * __bfloat162float(weight[i]));
  }
}

}  // namespace

void rms_norm_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* x,
                   const __nv_bfloat16* weight, int64_t num_tokens, int64_t hidden_size,
                   float eps) {
  if (num_tokens == 0) {
    return;
  }
  rms_norm_kernel<<<static_cast<unsigned>(num_tokens), kThreads, 0, stream>>>(out, x, weight,
                                                                              hidden_size, eps);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swiftkv::cuda
