// SwiGLU fused with the down projection.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// out = linear(swiglu(gate_up), w) (ops/swiglu.h, ops/linear.h). act receives swiglu(gate_up)
// unless the backend fuses the two (kCuda at decode batch sizes reads gate_up directly).
// out: [num_tokens, out_features]; gate_up: [num_tokens, 2 * intermediate_size];
// w: [out_features, intermediate_size]; act: [num_tokens, intermediate_size].
void swiglu_linear(const Context& ctx, const Tensor& out, const Tensor& gate_up, const Tensor& w,
                   const Tensor& act);

}  // namespace swiftkv::ops
