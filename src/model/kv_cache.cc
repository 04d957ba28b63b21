#include "model/kv_cache.h"

#include "core/error.h"

namespace swiftkv {

int64_t KvCacheShape::bytes_per_token() const {
  return 2 * num_cache_layers * num_kv_heads * head_dim * static_cast<int64_t>(sizeof(float));
}

KvCache::KvCache(const KvCacheShape& shape) : shape_(shape) {
  SWIFTKV_CHECK(shape.num_cache_layers > 0 && shape.num_blocks > 0 && shape.block_size > 0 &&
                    shape.num_kv_heads > 0 && shape.head_dim > 0,
                "layers=", shape.num_cache_layers, " blocks=", shape.num_blocks,
                " block_size=", shape.block_size);
  const Shape layer_shape = {shape.num_blocks, shape.block_size, shape.num_kv_heads,
                             shape.head_dim};
  for (int64_t i = 0; i < shape.num_cache_layers; ++i) {
    keys_.push_back(Tensor::zeros(layer_shape, DType::kF32));
    values_.push_back(Tensor::zeros(layer_shape, DType::kF32));
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

}  // namespace swiftkv
