// The KV cache of one sequence with contiguous block ids: the simplest owner of the paged cache
// layout, used by the offline generator and the tests. (The serving engine's block manager
// shares the same layout across many sequences.)
#pragma once

#include <cstdint>
#include <span>

#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/llama_model.h"

namespace swiftkv {

class SingleSequenceCache {
 public:
  // Room for `max_tokens` tokens in blocks of `block_size`.
  SingleSequenceCache(const LlamaModel& model, int64_t max_tokens, int64_t block_size = 16);

  int64_t capacity() const { return capacity_; }
  const KvCache& cache() const { return cache_; }

  // The batch for `tokens` at positions [start, start + n) of the sequence; the last
  // `num_logits` rows get logits. Throws Error when the sequence would outgrow the cache.
  BatchView make_batch(std::span<const int32_t> tokens, int64_t start, int64_t num_logits) const;

 private:
  int64_t capacity_;
  KvCache cache_;
  Tensor block_table_;  // [1, num_blocks] i32: 0, 1, 2, ...
};

}  // namespace swiftkv
