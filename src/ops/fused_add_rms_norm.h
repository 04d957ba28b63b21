// Residual add fused with the next RMSNorm (vLLM's fused_add_rms_norm).
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// residual += x, then out = rms_norm(residual) * weight (ops/rms_norm.h), per row.
// out, residual, x: [num_tokens, hidden_size] in the backend's activation dtype (f32 on CPU,
// bf16 on CUDA, where the sum is rounded to bf16 before the norm, as an unfused bf16 model
// computes it); out may alias x, not residual. weight: [hidden_size] (bf16 on CUDA).
void fused_add_rms_norm(const Context& ctx, const Tensor& out, const Tensor& residual,
                        const Tensor& x, const Tensor& weight, float eps);

}  // namespace swiftkv::ops
