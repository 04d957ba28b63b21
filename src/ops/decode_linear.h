// The linear layer of a one-token step with the small ops around it fused in (kCuda only).
#pragma once

#include "core/tensor.h"
#include "kernels/cuda/decode_linear_input.h"
#include "ops/context.h"

namespace swiftkv::ops {

using LinearInput = cuda::DecodeLinearInput;

// out (=, or += when accumulate) input(x) · wᵀ for one token, where input(x) is
//   kAsIs:    x                                  x: [1, k]
//   kRmsNorm: rms_norm(x, norm_weight, eps)      x: [1, k] (the residual stream)
//   kSiluMul: swiglu(x), x = gate | up           x: [1, 2k]
// w: [n, k]; out: [1, n]. With swiglu (the gate-up projection, w's rows interleaving gate and up:
// row 2j gate j, row 2j + 1 up j) out is [1, n / 2], out[j] = silu(y[2j]) · y[2j + 1] of y =
// input(x) · wᵀ, without accumulate. Each step rounds to bf16 as the unfused
// ops do (the transformed x, the projection, the sum, the SwiGLU), so it equals rms_norm/swiglu
// + linear (+ the residual add of fused_add_rms_norm, + swiglu) up to the order of f32 sums. kCuda,
// bf16 (out may be f32, unrounded, without accumulate: logits), a shape decode_linear_supported
// takes; out must not overlap x.
struct DecodeLinear {
  Tensor out;
  Tensor x;
  Tensor w;
  LinearInput input = LinearInput::kAsIs;
  Tensor norm_weight = Tensor();  // [k], kRmsNorm only
  float eps = 0.0F;
  bool accumulate = false;
  bool swiglu = false;
};
void decode_linear(const Context& ctx, const DecodeLinear& args);

// Whether decode_linear takes an [n, k] weight on this context (kCuda built, k a multiple of
// 1,024 up to 16,384, a block's share of rows within its shared memory).
bool decode_linear_supported(const Context& ctx, int64_t n, int64_t k);

}  // namespace swiftkv::ops
