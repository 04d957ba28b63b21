// KV cache capacity planning: how many blocks a memory budget buys (DESIGN.md §4).
#pragma once

#include <cstdint>

#include "model/llama_model.h"

namespace swiftkv {

// Blocks of `block_size` tokens that fit in `kv_cache_memory_bytes` on CPU: bytes /
// (block_size x KvCacheShape::bytes_per_token), K and V of every cache layer (SwiftKV models
// need fewer cache layers, hence more blocks). Throws Error when that is not even one sequence
// of `max_model_len` tokens (0: the model's max_position_embeddings), naming the memory needed.
int64_t plan_num_blocks(const LlamaModel& model, int64_t kv_cache_memory_bytes, int64_t block_size,
                        int64_t max_model_len = 0);

}  // namespace swiftkv
