// Checks and dispatch for the decode-shaped fused projections (contract in decode_fused.h). The
// CPU backends run the unfused ops in sequence; kCuda runs one fused kernel.
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

#include "kernels/cuda/decode_fused.h"
#include "ops/checks.h"
#include "ops/decode_fused.h"
#include "ops/device.h"
#include "ops/fused_add_rms_norm.h"
#include "ops/linear.h"
#include "ops/rms_norm.h"
#include "ops/rope_write_kv_cache.h"
#include "ops/swiglu.h"

namespace swiftkv::ops {
namespace {

void check_input(const Context& ctx, std::string_view op, const DecodeNormInput& in,
                 const Tensor& w) {
  detail::check_device(ctx, op, {&in.residual_out, &in.residual, &in.norm_weight, &w});
  detail::check_rank(op, "residual", in.residual, 2);
  const Shape shape = in.residual.shape();
  detail::check_shape(op, "residual_out", in.residual_out, shape);
  if (in.add.defined() && in.add.numel() > 0) {
    detail::check_device(ctx, op, {&in.add});
    detail::check_shape(op, "add", in.add, shape);
  }
  detail::check_shape(op, "norm_weight", in.norm_weight, {shape[1]});
  detail::check_rank(op, "w", w, 2);
  SWIFTKV_CHECK(w.dim(1) == shape[1], op, ": w ", shape_str(w.shape()), " vs hidden_size ",
                shape[1]);
  SWIFTKV_CHECK(in.residual_out.raw() != in.residual.raw() &&
                    (!in.add.defined() || in.residual_out.raw() != in.add.raw()),
                op, ": residual_out aliases an input");
}

bool has_add(const DecodeNormInput& in) { return in.add.defined() && in.add.numel() > 0; }

// The unfused pre-projection half (CPU backends): returns normed.
Tensor norm_unfused(const Context& ctx, const DecodeNormInput& in) {
  const Tensor normed = Tensor::empty(in.residual.shape(), in.residual.dtype());
  std::memcpy(in.residual_out.raw(), in.residual.raw(), in.residual.nbytes());
  if (has_add(in)) {
    fused_add_rms_norm(ctx, normed, in.residual_out, in.add, in.norm_weight, in.eps);
  } else {
    rms_norm(ctx, normed, in.residual_out, in.norm_weight, in.eps);
  }
  return normed;
}

cuda::DecodeFusedArgs fused_args(std::string_view op, const DecodeNormInput& in, const Tensor& out,
                                 const Tensor& w) {
  for (const Tensor* t : {&in.residual_out, &in.residual, &in.norm_weight, &w, &out}) {
    detail::check_dtype(op, "activations and weights", *t, DType::kBF16);
  }
  if (has_add(in)) {
    detail::check_dtype(op, "add", in.add, DType::kBF16);
  }
  return {.out = out,
          .residual_out = in.residual_out,
          .residual = in.residual,
          .add = has_add(in) ? in.add : Tensor(),
          .norm_weight = in.norm_weight,
          .eps = in.eps,
          .w = w};
}

}  // namespace

bool decode_fused_available(const Context& ctx, int64_t num_tokens, int64_t hidden_size,
                            DType weight_dtype) {
  if (ctx.backend != Backend::kCuda) {
    return true;
  }
  return weight_dtype == DType::kBF16 && cuda::decode_fused_supported(num_tokens, hidden_size);
}

void decode_norm_qkv_rope(const Context& ctx, const DecodeNormInput& in, const Tensor& qkv,
                          const Tensor& w_qkv, int64_t num_heads, int64_t num_kv_heads,
                          const Tensor& positions, const Tensor& inv_freq, const Tensor& k_cache,
                          const Tensor& v_cache, const Tensor& slot_mapping) {
  constexpr std::string_view kOp = "decode_norm_qkv_rope";
  check_input(ctx, kOp, in, w_qkv);
  detail::check_shape(kOp, "qkv", qkv, {in.residual.dim(0), w_qkv.dim(0)});
  const bool write_cache = k_cache.defined() && k_cache.numel() > 0;
  if (ctx.backend != Backend::kCuda) {
    linear(ctx, qkv, norm_unfused(ctx, in), w_qkv);
    rope_write_kv_cache(
        ctx, qkv, num_heads, num_kv_heads, positions, inv_freq,
        write_cache ? std::span<const Tensor>(&k_cache, 1) : std::span<const Tensor>(),
        write_cache ? std::span<const Tensor>(&v_cache, 1) : std::span<const Tensor>(),
        slot_mapping);
    return;
  }
  SWIFTKV_CHECK(decode_fused_available(ctx, in.residual.dim(0), in.residual.dim(1), w_qkv.dtype()),
                kOp, ": not available for ", shape_str(in.residual.shape()), " ",
                dtype_name(w_qkv.dtype()));
  const int64_t head_dim = 2 * inv_freq.dim(0);
  detail::check_shape(kOp, "positions", positions, {in.residual.dim(0)});
  detail::check_dtype(kOp, "positions", positions, DType::kI32);
  if (write_cache) {
    detail::check_shape(kOp, "slot_mapping", slot_mapping, {in.residual.dim(0)});
    detail::check_shape(kOp, "v_cache", v_cache, k_cache.shape());
    SWIFTKV_CHECK(k_cache.rank() == 4 && k_cache.dim(2) == num_kv_heads &&
                      k_cache.dim(3) == head_dim && k_cache.dtype() == DType::kBF16,
                  kOp, ": cache ", shape_str(k_cache.shape()), " vs ", num_kv_heads,
                  " kv heads of dim ", head_dim);
  }
  cuda::DecodeFusedArgs args = fused_args(kOp, in, qkv, w_qkv);
  args.epilogue = cuda::DecodeFusedEpilogue::kRopeKvCache;
  args.num_heads = num_heads;
  args.num_kv_heads = num_kv_heads;
  args.head_dim = head_dim;
  args.positions = positions;
  args.inv_freq = inv_freq;
  if (write_cache) {
    args.k_cache = k_cache;
    args.v_cache = v_cache;
    args.slot_mapping = slot_mapping;
  }
  cuda::decode_norm_gemv(*ctx.cuda, args);
}

void decode_norm_gate_up_swiglu(const Context& ctx, const DecodeNormInput& in, const Tensor& act,
                                const Tensor& w_gate_up) {
  constexpr std::string_view kOp = "decode_norm_gate_up_swiglu";
  check_input(ctx, kOp, in, w_gate_up);
  detail::check_shape(kOp, "act", act, {in.residual.dim(0), w_gate_up.dim(0) / 2});
  if (ctx.backend != Backend::kCuda) {
    const Tensor gate_up = Tensor::empty({in.residual.dim(0), w_gate_up.dim(0)}, act.dtype());
    linear(ctx, gate_up, norm_unfused(ctx, in), w_gate_up);
    swiglu(ctx, act, gate_up);
    return;
  }
  SWIFTKV_CHECK(
      decode_fused_available(ctx, in.residual.dim(0), in.residual.dim(1), w_gate_up.dtype()), kOp,
      ": not available for ", shape_str(in.residual.shape()), " ", dtype_name(w_gate_up.dtype()));
  cuda::DecodeFusedArgs args = fused_args(kOp, in, act, w_gate_up);
  args.epilogue = cuda::DecodeFusedEpilogue::kSiluMul;
  cuda::decode_norm_gemv(*ctx.cuda, args);
}

void decode_linear(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& w) {
  constexpr std::string_view kOp = "decode_linear";
  static const bool use_gemv = [] {  // experiment knob: SWIFTKV_DECODE_O_PROJ_GEMV=0
    const char* env = std::getenv("SWIFTKV_DECODE_O_PROJ_GEMV");
    return env == nullptr || std::string_view(env) != "0";
  }();
  if (!use_gemv || ctx.backend != Backend::kCuda || x.rank() != 2 ||
      !decode_fused_available(ctx, x.dim(0), x.dim(1), w.dtype())) {
    linear(ctx, out, x, w);
    return;
  }
  detail::check_device(ctx, kOp, {&out, &x, &w});
  detail::check_rank(kOp, "w", w, 2);
  SWIFTKV_CHECK(w.dim(1) == x.dim(1), kOp, ": w ", shape_str(w.shape()), " vs x ",
                shape_str(x.shape()));
  detail::check_shape(kOp, "out", out, {x.dim(0), w.dim(0)});
  for (const Tensor* t : {&out, &x, &w}) {
    detail::check_dtype(kOp, "out, x and w", *t, DType::kBF16);
  }
  cuda::decode_norm_gemv(*ctx.cuda, {.out = out, .residual = x, .w = w});
}

}  // namespace swiftkv::ops
