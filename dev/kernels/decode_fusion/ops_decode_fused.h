// Decode-shaped fused projections (at most a few rows): [residual add +] RMSNorm, one projection,
// and the op that follows it, in one CUDA launch (kernels/cuda/decode_norm_gemv.h). They compute
// exactly the unfused sequences named below, which the CPU backends run as such.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// The pre-projection half shared by both ops: residual_out = residual (+ add, rounded to the
// activation dtype), normed = rms_norm(residual_out, norm_weight, eps); residual and add are left
// unchanged. add may be undefined (plain rms_norm). All [num_tokens, hidden_size];
// norm_weight [hidden_size]; residual_out must alias neither input.
struct DecodeNormInput {
  const Tensor& residual_out;
  const Tensor& residual;
  const Tensor& add;
  const Tensor& norm_weight;
  float eps;
};

// True when decode_norm_* run fused on ctx for these sizes (kCuda, bf16, few rows); the CPU
// backends always run them (unfused).
bool decode_fused_available(const Context& ctx, int64_t num_tokens, int64_t hidden_size,
                            DType weight_dtype);

// qkv = linear(normed, w_qkv), then rope_write_kv_cache(qkv, num_heads, num_kv_heads, positions,
// inv_freq, {k_cache}, {v_cache}, slot_mapping). qkv: [num_tokens, (num_heads + 2 num_kv_heads)
// head_dim]; k_cache undefined: rotate only (SwiftKV's Q-only pass: num_kv_heads = 0).
void decode_norm_qkv_rope(const Context& ctx, const DecodeNormInput& in, const Tensor& qkv,
                          const Tensor& w_qkv, int64_t num_heads, int64_t num_kv_heads,
                          const Tensor& positions, const Tensor& inv_freq, const Tensor& k_cache,
                          const Tensor& v_cache, const Tensor& slot_mapping);

// act = swiglu(linear(normed, w_gate_up)). act: [num_tokens, intermediate_size]; w_gate_up:
// [2 intermediate_size, hidden_size] ([gate; up]).
void decode_norm_gate_up_swiglu(const Context& ctx, const DecodeNormInput& in, const Tensor& act,
                                const Tensor& w_gate_up);

// out = linear(x, w) (ops/linear.h); on kCuda for few rows a GEMV whose weight loads overlap the
// previous kernel's tail (programmatic dependent launch), else ops::linear itself.
void decode_linear(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& w);

}  // namespace swiftkv::ops
