// RMSNorm on CUDA (bf16 in/out, f32 accumulation). Contract: ops/ops.h rms_norm.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// out, x: [num_tokens, hidden_size] bf16 (out may alias x); weight: [hidden_size] bf16.
// One block per token; reads x once from global memory (row cached in registers for
// hidden_size <= 8192 x 1), memory-bound: 2 x num_tokens x hidden_size x 2 bytes.
void rms_norm_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* x,
                   const __nv_bfloat16* weight, int64_t num_tokens, int64_t hidden_size, float eps);

}  // namespace swiftkv::cuda
