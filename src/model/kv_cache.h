// The paged KV cache storage of a model (DESIGN.md §4): one K and one V tensor per cache
// layer, each [num_blocks, block_size, num_kv_heads, head_dim] f32 on CPU. A token occupies
// the same slot in every cache layer. Which blocks belong to which sequence is decided by the
// engine's block manager, never here.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace swiftkv {

struct KvCacheShape {
  int64_t num_cache_layers = 0;
  int64_t num_blocks = 0;
  int64_t block_size = 16;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;

  // Bytes of K and V for one token across all cache layers (f32).
  int64_t bytes_per_token() const;
};

class KvCache {
 public:
  explicit KvCache(const KvCacheShape& shape);
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;
  KvCache(KvCache&&) = default;
  KvCache& operator=(KvCache&&) = default;

  const KvCacheShape& shape() const { return shape_; }
  const Tensor& keys(int64_t cache_layer) const;    // [num_blocks, block_size, kv_heads, dim]
  const Tensor& values(int64_t cache_layer) const;  // same

 private:
  KvCacheShape shape_;
  std::vector<Tensor> keys_;
  std::vector<Tensor> values_;
};

}  // namespace swiftkv
