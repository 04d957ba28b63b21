// RMSNorm on CUDA (bf16 or f32 in/out, the model's dtype; f32 accumulation). Contract:
// ops/rms_norm.h.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// out, x: [num_tokens, hidden_size] (out may alias x); weight: [hidden_size]; all bf16 or all
// f32. One block per token; memory-bound: 2 x num_tokens x hidden_size x sizeof(element) bytes.
void rms_norm_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* x,
                   const __nv_bfloat16* weight, int64_t num_tokens, int64_t hidden_size, float eps);
void rms_norm_f32(cudaStream_t stream, float* out, const float* x, const float* weight,
                  int64_t num_tokens, int64_t hidden_size, float eps);

}  // namespace swiftkv::cuda
