#include "engine/single_sequence_cache.h"

#include <numeric>
#include <vector>

#include "core/error.h"

namespace swiftkv {

SingleSequenceCache::SingleSequenceCache(const LlamaModel& model, int64_t max_tokens,
                                         int64_t block_size)
    : capacity_(max_tokens),
      cache_(model.cache_shape((max_tokens + block_size - 1) / block_size, block_size)) {
  const int64_t num_blocks = cache_.shape().num_blocks;
  std::vector<int32_t> blocks(static_cast<size_t>(num_blocks));
  std::iota(blocks.begin(), blocks.end(), 0);
  block_table_ = Tensor::from_i32({1, num_blocks}, blocks);
}

BatchView SingleSequenceCache::make_batch(std::span<const int32_t> tokens, int64_t start,
                                          int64_t num_logits) const {
  const auto n = static_cast<int64_t>(tokens.size());
  if (start + n > capacity_) {
    throw Error(str_cat("sequence of ", start + n, " tokens exceeds the context of ", capacity_,
                        " tokens"));
  }
  SWIFTKV_CHECK(num_logits >= 0 && num_logits <= n, "num_logits=", num_logits, " n=", n);
  std::vector<int32_t> positions(static_cast<size_t>(n));
  std::iota(positions.begin(), positions.end(), static_cast<int32_t>(start));
  BatchView batch;
  batch.token_ids = Tensor::from_i32({n}, std::vector<int32_t>(tokens.begin(), tokens.end()));
  batch.positions = Tensor::from_i32({n}, positions);
  batch.slot_mapping = Tensor::from_i32({n}, positions);  // contiguous blocks: slot = position
  batch.attention.query_start_loc = Tensor::from_i32({2}, {0, static_cast<int32_t>(n)});
  batch.attention.kv_lens = Tensor::from_i32({1}, {static_cast<int32_t>(start + n)});
  batch.attention.block_tables = block_table_;
  batch.num_logits = Tensor::from_i32({1}, {static_cast<int32_t>(num_logits)});
  return batch;
}

}  // namespace swiftkv
