// SwiGLU activation.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// out = silu(gate) * up, elementwise. out, gate, up: [num_tokens, intermediate_size] f32
// (out may alias gate or up).
void silu_mul(const Context& ctx, const Tensor& out, const Tensor& gate, const Tensor& up);

}  // namespace swiftkv::ops
