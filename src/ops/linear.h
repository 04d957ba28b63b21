// Linear layer without bias.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// out = x · wᵀ (a linear layer without bias).
// out: [num_tokens, out_features] f32; x: [num_tokens, in_features] f32;
// w: [out_features, in_features] f32|bf16|f16 (the Hugging Face layout).
// kCuda: x and w bf16, out bf16 or f32 (f32 accumulation either way; f32 for logits).
void linear(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& w);

}  // namespace swiftkv::ops
