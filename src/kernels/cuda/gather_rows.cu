#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gather_rows.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 256;

template <typename Word>
__global__ void gather_rows_kernel(Word* out, const Word* x, const int32_t* indices,
                                   int64_t row_words) {
  const int64_t source_row = indices[blockIdx.x];
  const Word* source = x + source_row * row_words;
  Word* destination = out + static_cast<int64_t>(blockIdx.x) * row_words;
  for (int64_t i = threadIdx.x; i < row_words; i += kThreads) {
    destination[i] = source[i];
  }
}

__global__ void copy_tokens_kernel(int32_t* ids, const int32_t* source, const int32_t* pairs,
                                   int64_t num_pairs) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < num_pairs) {
    ids[pairs[2 * i]] = source[pairs[2 * i + 1]];
  }
}

}  // namespace

void copy_tokens(cudaStream_t stream, int32_t* ids, const int32_t* source, const int32_t* pairs,
                 int64_t num_pairs) {
  if (num_pairs == 0) {
    return;
  }
  const auto grid = static_cast<unsigned>((num_pairs + kThreads - 1) / kThreads);
  copy_tokens_kernel<<<grid, kThreads, 0, stream>>>(ids, source, pairs, num_pairs);
  CUDA_CHECK_LAUNCH();
}

void gather_rows(cudaStream_t stream, void* out, const void* x, const int32_t* indices,
                 int64_t num_indices, int64_t row_bytes) {
  if (num_indices == 0 || row_bytes == 0) {
    return;
  }
  const auto grid = static_cast<unsigned>(num_indices);
  if (row_bytes % 16 == 0 && is_aligned16(out) && is_aligned16(x)) {
    gather_rows_kernel<uint4><<<grid, kThreads, 0, stream>>>(
        static_cast<uint4*>(out), static_cast<const uint4*>(x), indices, row_bytes / 16);
  } else {
    gather_rows_kernel<uint8_t><<<grid, kThreads, 0, stream>>>(
        static_cast<uint8_t*>(out), static_cast<const uint8_t*>(x), indices, row_bytes);
  }
  CUDA_CHECK_LAUNCH();
}

}  // namespace swiftkv::cuda
