#include <algorithm>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/silu_mul.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T, int kVec>
__global__ void silu_mul_kernel(T* out, const T* gate_up, int64_t num_tokens,
                                int64_t intermediate_size) {
  using V = Vec<T, kVec>;
  const int64_t vecs_per_row = intermediate_size / kVec;
  const int64_t total = num_tokens * vecs_per_row;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t t = e / vecs_per_row;
    const int64_t i = (e % vecs_per_row) * kVec;
    const V gate = *reinterpret_cast<const V*>(gate_up + t * 2 * intermediate_size + i);
    const V up =
        *reinterpret_cast<const V*>(gate_up + t * 2 * intermediate_size + intermediate_size + i);
    V result;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      const float g = to_float(gate.v[j]);
      result.v[j] = from_float<T>(g / (1.0F + expf(-g)) * to_float(up.v[j]));
    }
    *reinterpret_cast<V*>(out + t * intermediate_size + i) = result;
  }
}

template <typename T>
void launch_silu_mul(cudaStream_t stream, T* out, const T* gate_up, int64_t num_tokens,
                     int64_t intermediate_size) {
  if (num_tokens == 0 || intermediate_size == 0) {
    return;
  }
  constexpr int kVec = kVec16<T>;
  const bool vectorized =
      intermediate_size % kVec == 0 && is_aligned16(out) && is_aligned16(gate_up);
  const int64_t total = num_tokens * intermediate_size / (vectorized ? kVec : 1);
  // Enough blocks to fill the GPU several times over; the grid-stride loop does the rest.
  const auto blocks = static_cast<unsigned>(
      std::min<int64_t>((total + kThreads - 1) / kThreads, int64_t{132} * 16));
  if (vectorized) {
    silu_mul_kernel<T, kVec>
        <<<blocks, kThreads, 0, stream>>>(out, gate_up, num_tokens, intermediate_size);
  } else {
    silu_mul_kernel<T, 1>
        <<<blocks, kThreads, 0, stream>>>(out, gate_up, num_tokens, intermediate_size);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void silu_mul_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* gate_up,
                   int64_t num_tokens, int64_t intermediate_size) {
  launch_silu_mul(stream, out, gate_up, num_tokens, intermediate_size);
}

void silu_mul_f32(cudaStream_t stream, float* out, const float* gate_up, int64_t num_tokens,
                  int64_t intermediate_size) {
  launch_silu_mul(stream, out, gate_up, num_tokens, intermediate_size);
}

}  // namespace swiftkv::cuda
