// Checks and dispatch for ops::fused_add_rms_norm (contract in fused_add_rms_norm.h). The CPU
// backends compose their add_inplace and rms_norm kernels.
#include "ops/fused_add_rms_norm.h"

#include "kernels/cpu/add_inplace.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void fused_add_rms_norm(const Context& ctx, const Tensor& out, const Tensor& residual,
                        const Tensor& x, const Tensor& weight, float eps) {
  constexpr std::string_view kOp = "fused_add_rms_norm";
  detail::check_device(ctx, kOp, {&out, &residual, &x, &weight});
  detail::check_rank(kOp, "x", x, 2);
  const DType dtype = detail::activation_dtype_of(ctx, kOp, "x", x);
  detail::check_shape(kOp, "residual", residual, x.shape());
  detail::check_dtype(kOp, "residual", residual, dtype);
  detail::check_shape(kOp, "out", out, x.shape());
  detail::check_dtype(kOp, "out", out, dtype);
  detail::check_shape(kOp, "weight", weight, {x.dim(1)});
  detail::check_weight_dtype(kOp, "weight", weight);
  if (ctx.backend == Backend::kCuda) {
    detail::check_dtype(kOp, "weight", weight, dtype);
  }
  SWIFTKV_CHECK(out.raw() != residual.raw() || out.numel() == 0, kOp, ": out aliases residual");
  detail::dispatch(
      ctx, kOp,
      [&] {
        kernels::cpu::ref::add_inplace(residual, x);
        kernels::cpu::ref::rms_norm(out, residual, weight, eps);
      },
      [&](ThreadPool& pool) {
        kernels::cpu::add_inplace(pool, residual, x);
        kernels::cpu::rms_norm(pool, out, residual, weight, eps);
      },
      [&](cuda::CudaContext& cuda) {
        cuda::fused_add_rms_norm(cuda, out, residual, x, weight, eps);
      });
}

}  // namespace swiftkv::ops
