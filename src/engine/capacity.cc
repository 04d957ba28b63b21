#include "engine/capacity.h"

#include "core/error.h"

namespace swiftkv {

int64_t plan_num_blocks(const LlamaModel& model, int64_t kv_cache_memory_bytes, int64_t block_size,
                        int64_t max_model_len) {
  if (block_size < 1) {
    throw Error(str_cat("the KV cache block size must be >= 1, got ", block_size));
  }
  if (max_model_len <= 0) {
    max_model_len = model.config().max_position_embeddings;
  }
  const int64_t bytes_per_block = block_size * model.cache_shape(1, block_size).bytes_per_token();
  const int64_t num_blocks = kv_cache_memory_bytes / bytes_per_block;
  const int64_t needed_blocks = (max_model_len + block_size - 1) / block_size;
  if (num_blocks < needed_blocks) {
    throw Error(str_cat("the KV cache memory of ", kv_cache_memory_bytes, " bytes holds ",
                        num_blocks, " blocks of ", block_size, " tokens (", bytes_per_block,
                        " bytes each), less than one sequence of max_model_len ", max_model_len,
                        " tokens (", needed_blocks * bytes_per_block,
                        " bytes): give the cache more memory or lower max_model_len"));
  }
  return num_blocks;
}

}  // namespace swiftkv
