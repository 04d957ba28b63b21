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

void copy_tokens(const Context& ctx, const Tensor& ids, const Tensor& source, const Tensor& pairs) {
  constexpr std::string_view kOp = "copy_tokens";
  detail::check_device(ctx, kOp, {&ids, &source, &pairs});
  detail::check_rank(kOp, "ids", ids, 1);
  detail::check_dtype(kOp, "ids", ids, DType::kI32);
  detail::check_rank(kOp, "source", source, 1);
  detail::check_dtype(kOp, "source", source, DType::kI32);
  detail::check_rank(kOp, "pairs", pairs, 2);
  detail::check_dtype(kOp, "pairs", pairs, DType::kI32);
  SWIFTKV_CHECK(pairs.dim(1) == 2, kOp, ": pairs must be [n, 2], got ", shape_str(pairs.shape()));
  const auto run_on_host = [&] {
    const auto* p = pairs.data<const int32_t>();
    for (int64_t i = 0; i < pairs.dim(0); ++i) {
      const int32_t to = p[2 * i];
      const int32_t from = p[2 * i + 1];
      SWIFTKV_CHECK(to >= 0 && to < ids.dim(0) && from >= 0 && from < source.dim(0), kOp, ": pair ",
                    i, " (", to, ", ", from, ") outside ids [0, ", ids.dim(0), ") or source [0, ",
                    source.dim(0), ")");
      ids.data<int32_t>()[to] = source.data<const int32_t>()[from];
    }
  };
  detail::dispatch(
      ctx, kOp, run_on_host, [&](ThreadPool&) { run_on_host(); },
      [&](cuda::CudaContext& cuda) { cuda::copy_tokens(cuda, ids, source, pairs); });
}

}  // namespace swiftkv::ops
