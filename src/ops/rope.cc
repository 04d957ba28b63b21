// Checks and dispatch for ops::rope (contract in rope.h).
#include "ops/rope.h"

#include "kernels/cpu/rope.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void rope(const Context& ctx, const Tensor& x, const Tensor& positions, const Tensor& inv_freq) {
  constexpr std::string_view kOp = "rope";
  detail::check_device(ctx, kOp, {&x, &positions, &inv_freq});
  detail::check_rank(kOp, "x", x, 3);
  detail::check_dtype(kOp, "x", x, DType::kF32);
  SWIFTKV_CHECK(x.dim(2) % 2 == 0, "rope: x ", shape_str(x.shape()), " has an odd head_dim");
  detail::check_shape(kOp, "positions", positions, {x.dim(0)});
  detail::check_dtype(kOp, "positions", positions, DType::kI32);
  detail::check_shape(kOp, "inv_freq", inv_freq, {x.dim(2) / 2});
  detail::check_dtype(kOp, "inv_freq", inv_freq, DType::kF32);
  detail::dispatch(
      ctx, kOp, [&] { kernels::cpu::ref::rope(x, positions, inv_freq); },
      [&](ThreadPool& pool) { kernels::cpu::rope(pool, x, positions, inv_freq); });
}

}  // namespace swiftkv::ops
