// Checks and dispatch for ops::embedding (contract in embedding.h).
#include "ops/embedding.h"

#include "kernels/cpu/embedding.h"
#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void embedding(const Context& ctx, const Tensor& out, const Tensor& table, const Tensor& ids) {
  constexpr std::string_view kOp = "embedding";
  detail::check_device(ctx, kOp, {&out, &table, &ids});
  detail::check_rank(kOp, "table", table, 2);
  detail::check_weight_dtype(kOp, "table", table);
  detail::check_rank(kOp, "ids", ids, 1);
  detail::check_dtype(kOp, "ids", ids, DType::kI32);
  detail::check_shape(kOp, "out", out, {ids.dim(0), table.dim(1)});
  const DType dtype = detail::activation_dtype_of(ctx, kOp, "out", out);
  const int64_t vocab_size = table.dim(0);
  if (ctx.backend == Backend::kCuda) {
    // The ids live on the device: the caller checked them on the host before uploading.
    detail::check_dtype(kOp, "table", table, dtype);
  }
  for (int64_t t = 0; ctx.backend != Backend::kCuda && t < ids.dim(0); ++t) {
    const int32_t id = ids.data<int32_t>()[t];
    SWIFTKV_CHECK(id >= 0 && id < vocab_size, "embedding: ids[", t, "] = ", id,
                  " is outside the table ", shape_str(table.shape()));
  }
  detail::dispatch(
      ctx, kOp, [&] { kernels::cpu::ref::embedding(out, table, ids); },
      [&](ThreadPool& pool) { kernels::cpu::embedding(pool, out, table, ids); },
      [&](cuda::CudaContext& cuda) { cuda::embedding(cuda, out, table, ids); });
}

}  // namespace swiftkv::ops

namespace swiftkv::ops {

void embedding_shard(const Context& ctx, const Tensor& out, const Tensor& table, const Tensor& ids,
                     int64_t first_row) {
  constexpr std::string_view kOp = "embedding_shard";
  SWIFTKV_CHECK(ctx.backend == Backend::kCuda && ctx.cuda != nullptr, kOp,
                ": tensor parallelism runs on kCuda only");
  detail::check_device(ctx, kOp, {&out, &table, &ids});
  detail::check_rank(kOp, "table", table, 2);
  detail::check_rank(kOp, "ids", ids, 1);
  detail::check_dtype(kOp, "ids", ids, DType::kI32);
  detail::check_shape(kOp, "out", out, {ids.dim(0), table.dim(1)});
  detail::check_dtype(kOp, "table", table, detail::activation_dtype_of(ctx, kOp, "out", out));
  SWIFTKV_CHECK(first_row >= 0, kOp, ": first_row ", first_row);
  cuda::embedding(*ctx.cuda, out, table, ids, first_row);
}

}  // namespace swiftkv::ops
