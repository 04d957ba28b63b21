// Checks and dispatch for ops::swiglu_linear (contract in swiglu_linear.h). The CPU backends run
// the two ops.
#include "ops/swiglu_linear.h"

#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/dispatch.h"
#include "ops/linear.h"
#include "ops/swiglu.h"

namespace swiftkv::ops {

void swiglu_linear(const Context& ctx, const Tensor& out, const Tensor& gate_up, const Tensor& w,
                   const Tensor& act) {
  constexpr std::string_view kOp = "swiglu_linear";
  detail::check_device(ctx, kOp, {&out, &gate_up, &w, &act});
  detail::check_rank(kOp, "act", act, 2);
  detail::check_shape(kOp, "gate_up", gate_up, {act.dim(0), 2 * act.dim(1)});
  detail::check_dtype(kOp, "gate_up", gate_up, activation_dtype(ctx));
  detail::check_dtype(kOp, "act", act, activation_dtype(ctx));
  detail::check_rank(kOp, "w", w, 2);
  SWIFTKV_CHECK(w.dim(1) == act.dim(1), kOp, ": w ", shape_str(w.shape()), " vs act ",
                shape_str(act.shape()));
  detail::check_shape(kOp, "out", out, {act.dim(0), w.dim(0)});
  detail::check_dtype(kOp, "out", out, activation_dtype(ctx));
  const auto unfused = [&] {
    swiglu(ctx, act, gate_up);
    linear(ctx, out, act, w);
  };
  detail::dispatch(
      ctx, kOp, unfused, [&](ThreadPool&) { unfused(); },
      [&](cuda::CudaContext& cuda) {
        detail::check_dtype(kOp, "w", w, DType::kBF16);
        cuda::swiglu_linear(cuda, out, gate_up, w, act);
      });
}

}  // namespace swiftkv::ops
