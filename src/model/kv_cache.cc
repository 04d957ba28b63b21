#include "model/kv_cache.h"

#include "core/error.h"
#include "ops/device.h"

namespace swiftkv {

int64_t KvCacheShape::bytes_per_token() const {
  return 2 * num_cache_layers * num_kv_heads * head_dim * static_cast<int64_t>(dtype_size(dtype));
}

namespace {

void check_shape(const KvCacheShape& shape) {
  SWIFTKV_CHECK(shape.num_cache_layers > 0 && shape.num_blocks > 0 && shape.block_size > 0 &&
                    shape.num_kv_heads > 0 && shape.head_dim > 0,
                "layers=", shape.num_cache_layers, " blocks=", shape.num_blocks,
                " block_size=", shape.block_size);
}

}  // namespace

KvCache::KvCache(const ops::Context& ctx, const KvCacheShape& shape) : shape_(shape) {
  if (ctx.backend != ops::Backend::kCuda) {
    *this = KvCache(shape);
    return;
  }
  check_shape(shape);
  SWIFTKV_CHECK(
      shape.dtype == DType::kBF16 || shape.dtype == DType::kF8E4M3 || shape.dtype == DType::kF32,
      "a CUDA KV cache is bf16, fp8_e4m3 or f32, not ", dtype_name(shape.dtype));
  const Shape layer_shape = {shape.num_blocks, shape.block_size, shape.num_kv_heads,
                             shape.head_dim};
  const int64_t layer_numel = shape_numel(layer_shape);
  // [num_cache_layers, 2 (K, V), layer_numel]: layer i's K at i * 2 * layer_numel.
  const Tensor all = ops::device_empty(ctx, {shape.num_cache_layers, 2, layer_numel}, shape_.dtype);
  ops::fill_zero(ctx, all);
  ops::synchronize(ctx);
  const Tensor flat = all.reshape({2 * shape.num_cache_layers, layer_numel});
  for (int64_t i = 0; i < shape.num_cache_layers; ++i) {
    keys_.push_back(flat.rows(2 * i, 2 * i + 1).reshape(layer_shape));
    values_.push_back(flat.rows(2 * i + 1, 2 * i + 2).reshape(layer_shape));
  }
}

KvCache::KvCache(const KvCacheShape& shape) : shape_(shape) {
  check_shape(shape);
  const Shape layer_shape = {shape.num_blocks, shape.block_size, shape.num_kv_heads,
                             shape.head_dim};
  for (int64_t i = 0; i < shape.num_cache_layers; ++i) {
    keys_.push_back(Tensor::zeros(layer_shape, shape.dtype));
    values_.push_back(Tensor::zeros(layer_shape, shape.dtype));
  }
}

const Tensor& KvCache::keys(int64_t cache_layer) const {
  SWIFTKV_CHECK(cache_layer >= 0 && cache_layer < shape_.num_cache_layers, "cache layer ",
                cache_layer);
  return keys_[static_cast<size_t>(cache_layer)];
}

const Tensor& KvCache::values(int64_t cache_layer) const {
  SWIFTKV_CHECK(cache_layer >= 0 && cache_layer < shape_.num_cache_layers, "cache layer ",
                cache_layer);
  return values_[static_cast<size_t>(cache_layer)];
}

void KvCache::attach_shards(std::vector<KvCache> other_ranks) {
  for (const KvCache& c : other_ranks) {
    SWIFTKV_CHECK(c.shape().num_blocks == shape_.num_blocks &&
                      c.shape().block_size == shape_.block_size &&
                      c.shape().num_cache_layers == shape_.num_cache_layers,
                  "KV cache shards differ in blocks or layers");
  }
  other_ranks_ = std::make_shared<std::vector<KvCache>>(std::move(other_ranks));
}

const KvCache& KvCache::shard(int64_t rank) const {
  SWIFTKV_CHECK(rank >= 0 && rank < num_shards(), "KV cache shard ", rank, " of ", num_shards());
  return rank == 0 ? *this : (*other_ranks_)[static_cast<size_t>(rank - 1)];
}

}  // namespace swiftkv
