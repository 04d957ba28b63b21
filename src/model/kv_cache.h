// The paged KV cache storage of a model (DESIGN.md §4): one K and one V tensor per cache
// layer, each [num_blocks, block_size, num_kv_heads, head_dim], f32 on CPU; on CUDA bf16, fp8
// e4m3 (--kv-cache-dtype fp8: 1 byte per element, core/fp8.h) or f32 (the f32 model). A
// token occupies the same slot in every cache layer. On CUDA all layers live in one allocation,
// cache layer i's K (and V) at a fixed stride from layer 0's, so SwiftKV's bulk K/V write
// reaches every later layer in one launch. Which blocks belong to which sequence is decided by the
// engine's block manager, never here.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv {

struct KvCacheShape {
  int64_t num_cache_layers = 0;
  int64_t num_blocks = 0;
  int64_t block_size = 16;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  // f32 on CPU; on CUDA bf16, fp8_e4m3 under the bf16 model, or f32 for the f32 model.
  DType dtype = DType::kF32;

  // Bytes of K and V for one token across all cache layers (1 byte per element for fp8_e4m3).
  int64_t bytes_per_token() const;
};

class KvCache {
 public:
  // Zero-filled host cache (shape.dtype).
  explicit KvCache(const KvCacheShape& shape);
  // Zero-filled cache where ctx runs: host memory for the CPU backends, one device allocation
  // for kCuda (shape.dtype bf16, fp8_e4m3 or f32; an fp8 zero is +0).
  KvCache(const ops::Context& ctx, const KvCacheShape& shape);
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;
  KvCache(KvCache&&) = default;
  KvCache& operator=(KvCache&&) = default;

  const KvCacheShape& shape() const { return shape_; }
  const Tensor& keys(int64_t cache_layer) const;    // [num_blocks, block_size, kv_heads, dim]
  const Tensor& values(int64_t cache_layer) const;  // same

  // Tensor parallelism: this object is rank 0's shard of the cache and carries the other ranks'
  // shards (each on its rank's device, the same blocks), so the engine holds one cache whatever
  // the number of GPUs. shard(0) is *this.
  void attach_shards(std::vector<KvCache> other_ranks);
  int64_t num_shards() const { return 1 + static_cast<int64_t>(other_ranks_->size()); }
  const KvCache& shard(int64_t rank) const;

 private:
  KvCacheShape shape_;
  std::vector<Tensor> keys_;
  std::vector<Tensor> values_;
  std::shared_ptr<std::vector<KvCache>> other_ranks_ = std::make_shared<std::vector<KvCache>>();
};

}  // namespace swiftkv
