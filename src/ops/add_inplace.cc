// Checks and dispatch for ops::add_inplace (contract in add_inplace.h).
#include "ops/add_inplace.h"

#include "kernels/cpu/add_inplace.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void add_inplace(const Context& ctx, const Tensor& x, const Tensor& y) {
  constexpr std::string_view kOp = "add_inplace";
  detail::check_device(ctx, kOp, {&x, &y});
  detail::check_dtype(kOp, "x", x, DType::kF32);
  detail::check_shape(kOp, "y", y, x.shape());
  detail::check_dtype(kOp, "y", y, DType::kF32);
  detail::dispatch(
      ctx, kOp, [&] { kernels::cpu::ref::add_inplace(x, y); },
      [&](ThreadPool& pool) { kernels::cpu::add_inplace(pool, x, y); });
}

}  // namespace swiftkv::ops
