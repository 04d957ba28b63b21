// Checks and dispatch for ops::rope_write_kv_cache (contract in rope_write_kv_cache.h). The CPU
// backends run their rope and write_kv_cache kernels on contiguous copies of the slices.
#include "ops/rope_write_kv_cache.h"

#include <vector>

#include "kernels/cpu/rope.h"
#include "kernels/cpu/write_kv_cache.h"
#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/column_slices.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void rope_write_kv_cache(const Context& ctx, const Tensor& qkv, int64_t num_heads,
                         int64_t num_kv_heads, const Tensor& positions, const Tensor& inv_freq,
                         std::span<const Tensor> k_caches, std::span<const Tensor> v_caches,
                         const Tensor& slot_mapping) {
  constexpr std::string_view kOp = "rope_write_kv_cache";
  std::vector<const Tensor*> tensors = {&qkv, &positions, &inv_freq};
  for (const Tensor& t : k_caches) {
    tensors.push_back(&t);
  }
  for (const Tensor& t : v_caches) {
    tensors.push_back(&t);
  }
  if (!k_caches.empty()) {
    tensors.push_back(&slot_mapping);
  }
  for (const Tensor* t : tensors) {
    detail::check_device(ctx, kOp, {t});
  }
  detail::check_rank(kOp, "qkv", qkv, 2);
  const DType dtype = detail::activation_dtype_of(ctx, kOp, "qkv", qkv);
  detail::check_rank(kOp, "inv_freq", inv_freq, 1);
  detail::check_dtype(kOp, "inv_freq", inv_freq, DType::kF32);
  const int64_t num_tokens = qkv.dim(0);
  const int64_t head_dim = 2 * inv_freq.dim(0);
  detail::check_shape(kOp, "positions", positions, {num_tokens});
  detail::check_dtype(kOp, "positions", positions, DType::kI32);
  SWIFTKV_CHECK(k_caches.size() == v_caches.size(), kOp, ": ", k_caches.size(), " k caches and ",
                v_caches.size(), " v caches");
  SWIFTKV_CHECK(num_heads >= 0 && num_kv_heads >= 0, kOp, ": num_heads ", num_heads,
                ", num_kv_heads ", num_kv_heads);
  const auto num_layers = static_cast<int64_t>(k_caches.empty() ? 1 : k_caches.size());
  const int64_t kv_width = num_kv_heads * head_dim;
  const int64_t q_width = num_heads * head_dim;
  SWIFTKV_CHECK(qkv.dim(1) == q_width + num_layers * 2 * kv_width, kOp, ": qkv ",
                shape_str(qkv.shape()), " does not hold ", num_heads, " q heads and ", num_layers,
                " x 2 x ", num_kv_heads, " kv heads of dim ", head_dim);
  const Shape cache_shape = k_caches.empty() ? Shape{} : k_caches[0].shape();
  if (!k_caches.empty()) {
    SWIFTKV_CHECK(num_kv_heads > 0, kOp, ": a cache write needs kv heads");
    detail::check_shape(kOp, "slot_mapping", slot_mapping, {num_tokens});
    detail::check_dtype(kOp, "slot_mapping", slot_mapping, DType::kI32);
    detail::check_rank(kOp, "k_cache", k_caches[0], 4);
    SWIFTKV_CHECK(cache_shape[2] == num_kv_heads && cache_shape[3] == head_dim, kOp, ": cache ",
                  shape_str(cache_shape), " vs ", num_kv_heads, " kv heads of dim ", head_dim);
    for (size_t i = 0; i < k_caches.size(); ++i) {
      detail::check_shape(kOp, "k_cache", k_caches[i], cache_shape);
      detail::check_shape(kOp, "v_cache", v_caches[i], cache_shape);
      detail::check_cache_dtype(ctx, kOp, "k_cache", k_caches[i], dtype);
      detail::check_dtype(kOp, "k_cache", k_caches[i], k_caches[0].dtype());
      detail::check_dtype(kOp, "v_cache", v_caches[i], k_caches[0].dtype());
    }
  }

  const auto run_cpu = [&](auto&& rope, auto&& write) {
    const Shape q_shape = {num_tokens, num_heads, head_dim};
    const Shape kv_shape = {num_tokens, num_kv_heads, head_dim};
    if (num_heads > 0) {
      const Tensor q = detail::copy_columns(qkv, 0, q_width);
      rope(q.reshape(q_shape));
      detail::store_columns(qkv, 0, q);
    }
    for (int64_t layer = 0; layer < num_layers && num_kv_heads > 0; ++layer) {
      const int64_t k_begin = q_width + layer * 2 * kv_width;
      const Tensor k = detail::copy_columns(qkv, k_begin, kv_width);
      rope(k.reshape(kv_shape));
      detail::store_columns(qkv, k_begin, k);
      if (!k_caches.empty()) {
        const Tensor v = detail::copy_columns(qkv, k_begin + kv_width, kv_width);
        const auto i = static_cast<size_t>(layer);
        write(k_caches[i], v_caches[i], k.reshape(kv_shape), v.reshape(kv_shape));
      }
    }
  };
  detail::dispatch(
      ctx, kOp,
      [&] {
        run_cpu([&](const Tensor& x) { kernels::cpu::ref::rope(x, positions, inv_freq); },
                [&](const Tensor& kc, const Tensor& vc, const Tensor& k, const Tensor& v) {
                  kernels::cpu::ref::write_kv_cache(kc, vc, k, v, slot_mapping);
                });
      },
      [&](ThreadPool& pool) {
        run_cpu([&](const Tensor& x) { kernels::cpu::rope(pool, x, positions, inv_freq); },
                [&](const Tensor& kc, const Tensor& vc, const Tensor& k, const Tensor& v) {
                  kernels::cpu::write_kv_cache(pool, kc, vc, k, v, slot_mapping);
                });
      },
      [&](cuda::CudaContext& cuda) {
        cuda::RopeWriteArgs args{.qkv = qkv,
                                 .num_heads = num_heads,
                                 .num_kv_heads = num_kv_heads,
                                 .head_dim = head_dim,
                                 .num_layers = num_layers,
                                 .positions = positions,
                                 .inv_freq = inv_freq,
                                 .slot_mapping = slot_mapping};
        if (!k_caches.empty()) {
          args.cache_dtype = k_caches[0].dtype();
          const auto elem = static_cast<std::ptrdiff_t>(dtype_size(args.cache_dtype));
          const auto* k0 = static_cast<const char*>(k_caches[0].raw());
          const auto* v0 = static_cast<const char*>(v_caches[0].raw());
          const std::ptrdiff_t stride =
              num_layers > 1 ? static_cast<const char*>(k_caches[1].raw()) - k0 : 0;
          for (size_t i = 0; i < k_caches.size(); ++i) {
            const auto offset = static_cast<std::ptrdiff_t>(i) * stride;
            SWIFTKV_CHECK(static_cast<const char*>(k_caches[i].raw()) == k0 + offset &&
                              static_cast<const char*>(v_caches[i].raw()) == v0 + offset,
                          kOp, ": the cache layers are not equally spaced in memory");
          }
          args.k_cache = k_caches[0].raw();
          args.v_cache = v_caches[0].raw();
          args.cache_layer_stride = stride / elem;
        }
        cuda::rope_write_kv_cache(cuda, args);
      });
}

}  // namespace swiftkv::ops
