// Checks and dispatch for ops::write_kv_cache (contract in write_kv_cache.h).
#include "ops/write_kv_cache.h"

#include "kernels/cpu/write_kv_cache.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void write_kv_cache(const Context& ctx, const Tensor& k_cache, const Tensor& v_cache,
                    const Tensor& k, const Tensor& v, const Tensor& slot_mapping) {
  constexpr std::string_view kOp = "write_kv_cache";
  detail::check_device(ctx, kOp, {&k_cache, &v_cache, &k, &v, &slot_mapping});
  detail::check_rank(kOp, "k_cache", k_cache, 4);
  detail::check_dtype(kOp, "k_cache", k_cache, DType::kF32);
  detail::check_shape(kOp, "v_cache", v_cache, k_cache.shape());
  detail::check_dtype(kOp, "v_cache", v_cache, DType::kF32);
  detail::check_rank(kOp, "k", k, 3);
  detail::check_shape(kOp, "k", k, {k.dim(0), k_cache.dim(2), k_cache.dim(3)});
  detail::check_dtype(kOp, "k", k, DType::kF32);
  detail::check_shape(kOp, "v", v, k.shape());
  detail::check_dtype(kOp, "v", v, DType::kF32);
  detail::check_shape(kOp, "slot_mapping", slot_mapping, {k.dim(0)});
  detail::check_dtype(kOp, "slot_mapping", slot_mapping, DType::kI32);
  const int64_t num_slots = k_cache.dim(0) * k_cache.dim(1);
  for (int64_t t = 0; t < k.dim(0); ++t) {
    const int32_t slot = slot_mapping.data<int32_t>()[t];
    SWIFTKV_CHECK(slot >= -1 && slot < num_slots, "write_kv_cache: slot_mapping[", t, "] = ", slot,
                  " is outside the cache ", shape_str(k_cache.shape()), " (", num_slots,
                  " slots; -1 skips)");
  }
  detail::dispatch(
      ctx, kOp, [&] { kernels::cpu::ref::write_kv_cache(k_cache, v_cache, k, v, slot_mapping); },
      [&](ThreadPool& pool) {
        kernels::cpu::write_kv_cache(pool, k_cache, v_cache, k, v, slot_mapping);
      });
}

}  // namespace swiftkv::ops
