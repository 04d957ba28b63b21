// The reduction of the device-local communicator (device_local_communicator.cc): out[i] = the
// sum over ranks, in rank order and in f32, of inputs[r][i]. Grid-stride, memory-bound.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

constexpr int kMaxLocalRanks = 16;

struct RankInputs {
  const void* ptr[kMaxLocalRanks];
};

void sum_ranks_bf16(cudaStream_t stream, __nv_bfloat16* out, const RankInputs& inputs,
                    int num_ranks, int64_t n);
void sum_ranks_f32(cudaStream_t stream, float* out, const RankInputs& inputs, int num_ranks,
                   int64_t n);

}  // namespace swiftkv::cuda
