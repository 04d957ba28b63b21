// Checks and dispatch for ops::linear (contract in linear.h).
#include "ops/linear.h"

#include "kernels/cpu/linear.h"
#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void linear(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& w) {
  constexpr std::string_view kOp = "linear";
  detail::check_device(ctx, kOp, {&out, &x, &w});
  detail::check_rank(kOp, "x", x, 2);
  const DType dtype = detail::activation_dtype_of(ctx, kOp, "x", x);
  detail::check_rank(kOp, "w", w, 2);
  if (ctx.backend == Backend::kCuda) {
    detail::check_dtype(kOp, "w", w, dtype);
  } else {
    detail::check_weight_dtype(kOp, "w", w);
  }
  SWIFTKV_CHECK(x.dim(1) == w.dim(1), "linear: x ", shape_str(x.shape()), " and w ",
                shape_str(w.shape()), " disagree on in_features");
  detail::check_shape(kOp, "out", out, {x.dim(0), w.dim(0)});
  if (ctx.backend != Backend::kCuda || out.dtype() != DType::kF32) {
    detail::check_dtype(kOp, "out", out, dtype);
  }
  const auto* out_begin = static_cast<const char*>(out.raw());
  const auto* x_begin = static_cast<const char*>(x.raw());
  SWIFTKV_CHECK(out_begin + out.nbytes() <= x_begin || x_begin + x.nbytes() <= out_begin,
                "linear: out ", shape_str(out.shape()), " overlaps x ", shape_str(x.shape()));
  detail::dispatch(
      ctx, kOp, [&] { kernels::cpu::ref::linear(out, x, w); },
      [&](ThreadPool& pool) { kernels::cpu::linear(pool, out, x, w); },
      [&](cuda::CudaContext& cuda) { cuda::linear(cuda, out, x, w); });
}

}  // namespace swiftkv::ops
