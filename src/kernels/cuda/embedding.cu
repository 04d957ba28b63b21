#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/embedding.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 128;

template <int kVec>
__global__ void embedding_kernel(__nv_bfloat16* out, const __nv_bfloat16* table, const int32_t* ids,
                                 int64_t hidden_size) {
  using Vec = BF16Vec<kVec>;
  const int64_t id = ids[blockIdx.x];
  const Vec* row = reinterpret_cast<const Vec*>(table + id * hidden_size);
  Vec* destination = reinterpret_cast<Vec*>(out + static_cast<int64_t>(blockIdx.x) * hidden_size);
  for (int64_t i = threadIdx.x; i < hidden_size / kVec; i += kThreads) {
    destination[i] = row[i];
  }
}

}  // namespace

void embedding_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* table,
                    const int32_t* ids, int64_t num_tokens, int64_t hidden_size) {
  if (num_tokens == 0 || hidden_size == 0) {
    return;
  }
  const auto grid = static_cast<unsigned>(num_tokens);
  if (hidden_size % 8 == 0 && is_aligned16(out) && is_aligned16(table)) {
    embedding_kernel<8><<<grid, kThreads, 0, stream>>>(out, table, ids, hidden_size);
  } else {
    embedding_kernel<1><<<grid, kThreads, 0, stream>>>(out, table, ids, hidden_size);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace swiftkv::cuda
