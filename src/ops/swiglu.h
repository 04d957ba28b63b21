// SwiGLU on the output of the fused gate-up projection.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// out[t, i] = silu(gate_up[t, i]) * gate_up[t, intermediate_size + i] (ops/silu_mul.h on the two
// halves of one [gate_proj; up_proj] projection).
// out: [num_tokens, intermediate_size]; gate_up: [num_tokens, 2 * intermediate_size]; both in
// the backend's activation dtype. interleaved: gate_up's columns interleave gate and up instead
// (2i gate i, 2i + 1 up i), the output of a row-interleaved fused weight (the CUDA model's).
void swiglu(const Context& ctx, const Tensor& out, const Tensor& gate_up, bool interleaved = false);

}  // namespace swiftkv::ops
