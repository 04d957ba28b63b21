#include <algorithm>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/sum_ranks.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void sum_ranks_kernel(T* out, RankInputs inputs, int num_ranks, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * kThreads) {
    float sum = 0.0F;
    for (int r = 0; r < num_ranks; ++r) {
      sum += to_float(static_cast<const T*>(inputs.ptr[r])[i]);
    }
    out[i] = from_float<T>(sum);
  }
}

template <typename T>
void launch(cudaStream_t stream, T* out, const RankInputs& inputs, int num_ranks, int64_t n) {
  if (n == 0) {
    return;
  }
  const auto blocks = static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 1024));
  sum_ranks_kernel<T><<<blocks, kThreads, 0, stream>>>(out, inputs, num_ranks, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void sum_ranks_bf16(cudaStream_t stream, __nv_bfloat16* out, const RankInputs& inputs,
                    int num_ranks, int64_t n) {
  launch(stream, out, inputs, num_ranks, n);
}

void sum_ranks_f32(cudaStream_t stream, float* out, const RankInputs& inputs, int num_ranks,
                   int64_t n) {
  launch(stream, out, inputs, num_ranks, n);
}

}  // namespace swiftkv::cuda
