// Checks and dispatch for ops::rms_norm (contract in rms_norm.h).
#include "ops/rms_norm.h"

#include "kernels/cpu/rms_norm.h"
#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void rms_norm(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight,
              float eps) {
  constexpr std::string_view kOp = "rms_norm";
  detail::check_device(ctx, kOp, {&out, &x, &weight});
  detail::check_rank(kOp, "x", x, 2);
  const DType dtype = detail::activation_dtype_of(ctx, kOp, "x", x);
  detail::check_shape(kOp, "out", out, x.shape());
  detail::check_dtype(kOp, "out", out, dtype);
  detail::check_shape(kOp, "weight", weight, {x.dim(1)});
  detail::check_weight_dtype(kOp, "weight", weight);
  if (ctx.backend == Backend::kCuda) {
    detail::check_dtype(kOp, "weight", weight, dtype);
  }
  detail::dispatch(
      ctx, kOp, [&] { kernels::cpu::ref::rms_norm(out, x, weight, eps); },
      [&](ThreadPool& pool) { kernels::cpu::rms_norm(pool, out, x, weight, eps); },
      [&](cuda::CudaContext& cuda) { cuda::rms_norm(cuda, out, x, weight, eps); });
}

}  // namespace swiftkv::ops
