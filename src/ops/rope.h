// Rotary position embedding.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// Rotary position embedding in the Hugging Face "rotate half" layout, in place:
// for each head and i < head_dim/2, with a = x[i], b = x[i + head_dim/2],
// angle = positions[t] * inv_freq[i]:  x[i] = a cos - b sin,  x[i + head_dim/2] = b cos + a sin.
// cos/sin are computed in f32 from (f32 position × f32 inv_freq), as transformers does.
// x: [num_tokens, num_heads, head_dim] f32; positions: [num_tokens] i32;
// inv_freq: [head_dim / 2] f32 (already including any llama3 scaling).
void rope(const Context& ctx, const Tensor& x, const Tensor& positions, const Tensor& inv_freq);

}  // namespace swiftkv::ops
