#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/fused_add_rms_norm.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 512;

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
  return value;  // every warp reduced the same partial sums: all threads hold the total
}

// kVec elements per access: 16-byte vectors when rows are 16-byte aligned, else 1.
template <typename T, int kVec>
__global__ void fused_add_rms_norm_kernel(T* out, T* residual, const T* x, const T* weight,
                                          int64_t hidden_size, float eps) {
  using V = Vec<T, kVec>;
  const int64_t row_offset = static_cast<int64_t>(blockIdx.x) * hidden_size;
  const int64_t num_vecs = hidden_size / kVec;
  const V* x_row = reinterpret_cast<const V*>(x + row_offset);
  V* residual_row = reinterpret_cast<V*>(residual + row_offset);
  float sum_squares = 0.0F;
  for (int64_t i = threadIdx.x; i < num_vecs; i += kThreads) {
    const V a = x_row[i];
    V sum = residual_row[i];
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const float v = to_float(a.v[j]) + to_float(sum.v[j]);
      sum.v[j] = from_float<T>(v);
      const float rounded = to_float(sum.v[j]);
      sum_squares += rounded * rounded;
    }
    residual_row[i] = sum;
  }
  const float inv_rms = rsqrtf(block_sum(sum_squares) / static_cast<float>(hidden_size) + eps);
  const V* weight_vecs = reinterpret_cast<const V*>(weight);
  V* out_row = reinterpret_cast<V*>(out + row_offset);
  for (int64_t i = threadIdx.x; i < num_vecs; i += kThreads) {
    const V r = residual_row[i];  // written by this thread above
    const V w = weight_vecs[i];
    V result;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      result.v[j] = from_float<T>(to_float(r.v[j]) * inv_rms * to_float(w.v[j]));
    }
    out_row[i] = result;
  }
}

template <typename T>
void launch_fused_add_rms_norm(cudaStream_t stream, T* out, T* residual, const T* x,
                               const T* weight, int64_t num_tokens, int64_t hidden_size,
                               float eps) {
  if (num_tokens == 0) {
    return;
  }
  const auto grid = static_cast<unsigned>(num_tokens);
  constexpr int kVec = kVec16<T>;
  if (hidden_size % kVec == 0 && is_aligned16(out) && is_aligned16(residual) && is_aligned16(x) &&
      is_aligned16(weight)) {
    fused_add_rms_norm_kernel<T, kVec>
        <<<grid, kThreads, 0, stream>>>(out, residual, x, weight, hidden_size, eps);
  } else {
    fused_add_rms_norm_kernel<T, 1>
        <<<grid, kThreads, 0, stream>>>(out, residual, x, weight, hidden_size, eps);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void fused_add_rms_norm_bf16(cudaStream_t stream, __nv_bfloat16* out, __nv_bfloat16* residual,
                             const __nv_bfloat16* x, const __nv_bfloat16* weight,
                             int64_t num_tokens, int64_t hidden_size, float eps) {
  launch_fused_add_rms_norm(stream, out, residual, x, weight, num_tokens, hidden_size, eps);
}

void fused_add_rms_norm_f32(cudaStream_t stream, float* out, float* residual, const float* x,
                            const float* weight, int64_t num_tokens, int64_t hidden_size,
                            float eps) {
  launch_fused_add_rms_norm(stream, out, residual, x, weight, num_tokens, hidden_size, eps);
}

}  // namespace swiftkv::cuda
