// Fused residual add + RMSNorm on CUDA (vLLM's fused_add_rms_norm), bf16 or f32 in/out (the
// model's dtype), f32 math.
// Contract: ops/add_inplace.h followed by ops/rms_norm.h on the sum.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// residual = T(residual + x); out = T(residual / sqrt(mean(residual²) + eps) * weight),
// the norm computed from the rounded residual (as Hugging Face computes it after an unfused add;
// no rounding for T = f32). out, x, residual: [num_tokens, hidden_size] (out may alias x, not
// residual); weight: [hidden_size]; all bf16 or all f32. One block per token; memory-bound:
// reads x and residual, writes residual and out (4 accesses per element; the second read of
// residual hits L2).
void fused_add_rms_norm_bf16(cudaStream_t stream, __nv_bfloat16* out, __nv_bfloat16* residual,
                             const __nv_bfloat16* x, const __nv_bfloat16* weight,
                             int64_t num_tokens, int64_t hidden_size, float eps);
void fused_add_rms_norm_f32(cudaStream_t stream, float* out, float* residual, const float* x,
                            const float* weight, int64_t num_tokens, int64_t hidden_size,
                            float eps);

}  // namespace swiftkv::cuda
