// Checks and dispatch for ops::decode_linear (contract in decode_linear.h).
#include "ops/decode_linear.h"

#include "kernels/cuda/backend.h"
#include "ops/checks.h"

namespace swiftkv::ops {

bool decode_linear_supported(const Context& ctx, int64_t n, int64_t k) {
  return ctx.backend == Backend::kCuda && cuda::decode_linear_supports(n, k);
}

void decode_linear(const Context& ctx, const DecodeLinear& args) {
  constexpr std::string_view kOp = "decode_linear";
  SWIFTKV_CHECK(ctx.backend == Backend::kCuda, "decode_linear: kCuda only");
  detail::check_device(ctx, kOp, {&args.out, &args.x, &args.w});
  detail::check_rank(kOp, "w", args.w, 2);
  detail::check_dtype(kOp, "w", args.w, DType::kBF16);
  detail::check_dtype(kOp, "x", args.x, DType::kBF16);
  SWIFTKV_CHECK(
      args.out.dtype() == DType::kBF16 || (args.out.dtype() == DType::kF32 && !args.accumulate),
      "decode_linear: out must be bf16 (or f32 without accumulate), got ",
      dtype_name(args.out.dtype()));
  const int64_t n = args.w.dim(0);
  const int64_t k = args.w.dim(1);
  SWIFTKV_CHECK(cuda::decode_linear_supports(n, k), "decode_linear: a ", n, " x ", k,
                " weight: in_features must be a multiple of 1024 up to 16384, and a block's "
                "share of the rows must fit its shared memory");
  const int64_t x_width = args.input == LinearInput::kSiluMul ? 2 * k : k;
  detail::check_shape(kOp, "x", args.x, {1, x_width});
  SWIFTKV_CHECK(!args.swiglu || (n % 2 == 0 && !args.accumulate), kOp,
                ": a SwiGLU output needs an even out_features (", n, ") and no accumulate");
  detail::check_shape(kOp, "out", args.out, {1, args.swiglu ? n / 2 : n});
  if (args.input == LinearInput::kRmsNorm) {
    detail::check_device(ctx, kOp, {&args.norm_weight});
    detail::check_dtype(kOp, "norm_weight", args.norm_weight, DType::kBF16);
    detail::check_shape(kOp, "norm_weight", args.norm_weight, {k});
  }
  SWIFTKV_CHECK(ctx.cuda != nullptr, "decode_linear: the kCuda backend needs ctx.cuda");
  cuda::decode_linear(*ctx.cuda, {.out = args.out,
                                  .x = args.x,
                                  .w = args.w,
                                  .input = args.input,
                                  .norm_weight = args.norm_weight,
                                  .eps = args.eps,
                                  .accumulate = args.accumulate,
                                  .swiglu = args.swiglu});
}

}  // namespace swiftkv::ops
