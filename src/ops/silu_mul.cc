// Checks and dispatch for ops::silu_mul (contract in silu_mul.h).
#include "ops/silu_mul.h"

#include "kernels/cpu/silu_mul.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void silu_mul(const Context& ctx, const Tensor& out, const Tensor& gate, const Tensor& up) {
  constexpr std::string_view kOp = "silu_mul";
  detail::check_device(ctx, kOp, {&out, &gate, &up});
  detail::check_rank(kOp, "gate", gate, 2);
  detail::check_dtype(kOp, "gate", gate, DType::kF32);
  detail::check_shape(kOp, "up", up, gate.shape());
  detail::check_dtype(kOp, "up", up, DType::kF32);
  detail::check_shape(kOp, "out", out, gate.shape());
  detail::check_dtype(kOp, "out", out, DType::kF32);
  detail::dispatch(
      ctx, kOp, [&] { kernels::cpu::ref::silu_mul(out, gate, up); },
      [&](ThreadPool& pool) { kernels::cpu::silu_mul(pool, out, gate, up); });
}

}  // namespace swiftkv::ops
