// RMSNorm (Hugging Face LlamaRMSNorm).
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// out = x / sqrt(mean(x^2) + eps) * weight, per row (Hugging Face LlamaRMSNorm: the normalisation
// in f32, then multiplied by the weight).
// out, x: [num_tokens, hidden_size] f32 (out may alias x); weight: [hidden_size] f32|bf16|f16.
// kCuda: out, x and weight bf16 (f32 math, rounded once).
void rms_norm(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight,
              float eps);

}  // namespace swiftkv::ops
