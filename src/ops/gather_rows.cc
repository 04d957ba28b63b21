// Checks and dispatch for ops::gather_rows (contract in gather_rows.h).
#include "ops/gather_rows.h"

#include "kernels/cpu/gather_rows.h"
#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void gather_rows(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& indices) {
  constexpr std::string_view kOp = "gather_rows";
  detail::check_device(ctx, kOp, {&out, &x, &indices});
  detail::check_rank(kOp, "x", x, 2);
  const DType dtype = detail::activation_dtype_of(ctx, kOp, "x", x);
  detail::check_rank(kOp, "indices", indices, 1);
  detail::check_dtype(kOp, "indices", indices, DType::kI32);
  detail::check_shape(kOp, "out", out, {indices.dim(0), x.dim(1)});
  detail::check_dtype(kOp, "out", out, dtype);
  // On kCuda the indices live on the device: the caller checked them before uploading.
  for (int64_t i = 0; ctx.backend != Backend::kCuda && i < indices.dim(0); ++i) {
    const int32_t row = indices.data<const int32_t>()[i];
    SWIFTKV_CHECK(row >= 0 && row < x.dim(0), kOp, ": index ", row, " at ", i, " outside [0, ",
                  x.dim(0), ")");
  }
  detail::dispatch(
      ctx, kOp, [&] { kernels::cpu::ref::gather_rows(out, x, indices); },
      [&](ThreadPool& pool) { kernels::cpu::gather_rows(pool, out, x, indices); },
      [&](cuda::CudaContext& cuda) { cuda::gather_rows(cuda, out, x, indices); });
}

}  // namespace swiftkv::ops
