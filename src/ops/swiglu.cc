// Checks and dispatch for ops::swiglu (contract in swiglu.h). The CPU backends split the columns
// and run their silu_mul kernel.
#include "ops/swiglu.h"

#include "kernels/cpu/silu_mul.h"
#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/column_slices.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void swiglu(const Context& ctx, const Tensor& out, const Tensor& gate_up, bool interleaved) {
  constexpr std::string_view kOp = "swiglu";
  detail::check_device(ctx, kOp, {&out, &gate_up});
  detail::check_rank(kOp, "out", out, 2);
  const DType dtype = detail::activation_dtype_of(ctx, kOp, "out", out);
  detail::check_shape(kOp, "gate_up", gate_up, {out.dim(0), 2 * out.dim(1)});
  detail::check_dtype(kOp, "gate_up", gate_up, dtype);
  const int64_t intermediate_size = out.dim(1);
  const auto split = [&] {
    if (interleaved) {  // [T, 2I] as [T * I, 2]: column 0 is gate, column 1 up
      const Tensor pairs = gate_up.reshape({gate_up.dim(0) * intermediate_size, 2});
      return std::pair{detail::copy_columns(pairs, 0, 1).reshape(out.shape()),
                       detail::copy_columns(pairs, 1, 1).reshape(out.shape())};
    }
    return std::pair{detail::copy_columns(gate_up, 0, intermediate_size),
                     detail::copy_columns(gate_up, intermediate_size, intermediate_size)};
  };
  detail::dispatch(
      ctx, kOp,
      [&] {
        const auto [gate, up] = split();
        kernels::cpu::ref::silu_mul(out, gate, up);
      },
      [&](ThreadPool& pool) {
        const auto [gate, up] = split();
        kernels::cpu::silu_mul(pool, out, gate, up);
      },
      [&](cuda::CudaContext& cuda) { cuda::swiglu(cuda, out, gate_up, interleaved); });
}

}  // namespace swiftkv::ops
