#include <algorithm>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/silu_mul.h"
#include "kernels/cuda/swiglu_math.cuh"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 256;

// kInterleaved: a thread's kVec outputs read the 2 kVec elements from column 2i on, as two
// vectors of (gate, up) pairs.
template <typename T, int kVec, bool kInterleaved>
__global__ void silu_mul_kernel(T* out, const T* gate_up, int64_t num_tokens,
                                int64_t intermediate_size) {
  using V = Vec<T, kVec>;
  const int64_t vecs_per_row = intermediate_size / kVec;
  const int64_t total = num_tokens * vecs_per_row;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; e < total;
       e += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t t = e / vecs_per_row;
    const int64_t i = (e % vecs_per_row) * kVec;
    const T* row = gate_up + t * 2 * intermediate_size;
    const V first = *reinterpret_cast<const V*>(row + (kInterleaved ? 2 * i : i));
    const V second =
        *reinterpret_cast<const V*>(row + (kInterleaved ? 2 * i + kVec : intermediate_size + i));
    V result;
#pragma unroll
    for (int j = 0; j < kVec; ++j) {
      float g = 0.0F;
      float u = 0.0F;
      if constexpr (kInterleaved && kVec > 1) {
        const V& pairs = j < kVec / 2 ? first : second;
        g = to_float(pairs.v[(2 * j) % kVec]);
        u = to_float(pairs.v[(2 * j) % kVec + 1]);
      } else {  // (interleaved one-element vectors: first and second are the pair)
        g = to_float(first.v[j]);
        u = to_float(second.v[j]);
      }
      result.v[j] = from_float<T>(silu_times(g, u));
    }
    *reinterpret_cast<V*>(out + t * intermediate_size + i) = result;
  }
}

template <typename T, bool kInterleaved>
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
    silu_mul_kernel<T, kVec, kInterleaved>
        <<<blocks, kThreads, 0, stream>>>(out, gate_up, num_tokens, intermediate_size);
  } else {
    silu_mul_kernel<T, 1, kInterleaved>
        <<<blocks, kThreads, 0, stream>>>(out, gate_up, num_tokens, intermediate_size);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace

template <typename T>
void launch_silu_mul(cudaStream_t stream, T* out, const T* gate_up, int64_t num_tokens,
                     int64_t intermediate_size, bool interleaved) {
  if (interleaved) {
    launch_silu_mul<T, true>(stream, out, gate_up, num_tokens, intermediate_size);
  } else {
    launch_silu_mul<T, false>(stream, out, gate_up, num_tokens, intermediate_size);
  }
}

void silu_mul_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* gate_up,
                   int64_t num_tokens, int64_t intermediate_size, bool interleaved) {
  launch_silu_mul(stream, out, gate_up, num_tokens, intermediate_size, interleaved);
}

void silu_mul_f32(cudaStream_t stream, float* out, const float* gate_up, int64_t num_tokens,
                  int64_t intermediate_size, bool interleaved) {
  launch_silu_mul(stream, out, gate_up, num_tokens, intermediate_size, interleaved);
}

}  // namespace swiftkv::cuda
