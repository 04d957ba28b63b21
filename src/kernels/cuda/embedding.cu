#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 128;

// Rows of a vocabulary shard (first_row, num_rows); ids outside it get zero rows.
template <typename T, int kVec>
__global__ void embedding_kernel(T* out, const T* table, const int32_t* ids, int64_t hidden_size,
                                 int64_t first_row, int64_t num_rows) {
  using V = Vec<T, kVec>;
  const int64_t id = ids[blockIdx.x] - first_row;
  V* destination = reinterpret_cast<V*>(out + static_cast<int64_t>(blockIdx.x) * hidden_size);
  if (id < 0 || id >= num_rows) {
    V zero;
    for (int k = 0; k < kVec; ++k) {
      reinterpret_cast<T*>(&zero)[k] = from_float<T>(0.0F);
    }
    for (int64_t i = threadIdx.x; i < hidden_size / kVec; i += kThreads) {
      destination[i] = zero;
    }
    return;
  }
  const V* row = reinterpret_cast<const V*>(table + id * hidden_size);
  for (int64_t i = threadIdx.x; i < hidden_size / kVec; i += kThreads) {
    destination[i] = row[i];
  }
}

template <typename T>
void launch_embedding(cudaStream_t stream, T* out, const T* table, const int32_t* ids,
                      int64_t num_tokens, int64_t hidden_size, int64_t first_row,
                      int64_t num_rows) {
  if (num_tokens == 0 || hidden_size == 0) {
    return;
  }
  const auto grid = static_cast<unsigned>(num_tokens);
  constexpr int kVec = kVec16<T>;
  if (hidden_size % kVec == 0 && is_aligned16(out) && is_aligned16(table)) {
    embedding_kernel<T, kVec>
        <<<grid, kThreads, 0, stream>>>(out, table, ids, hidden_size, first_row, num_rows);
  } else {
    embedding_kernel<T, 1>
        <<<grid, kThreads, 0, stream>>>(out, table, ids, hidden_size, first_row, num_rows);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void embedding_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* table,
                    const int32_t* ids, int64_t num_tokens, int64_t hidden_size, int64_t first_row,
                    int64_t num_rows) {
  launch_embedding(stream, out, table, ids, num_tokens, hidden_size, first_row, num_rows);
}

void embedding_f32(cudaStream_t stream, float* out, const float* table, const int32_t* ids,
                   int64_t num_tokens, int64_t hidden_size, int64_t first_row, int64_t num_rows) {
  launch_embedding(stream, out, table, ids, num_tokens, hidden_size, first_row, num_rows);
}

}  // namespace swiftkv::cuda
