// KV cache capacity planning: how many blocks a memory budget buys (DESIGN.md §4).
#pragma once

#include <cstdint>

#include "engine/step_model.h"
#include "model/llama_model.h"

namespace swiftkv {

// Blocks of `block_size` tokens that fit in `kv_cache_memory_bytes` on CPU: bytes /
// (block_size x KvCacheShape::bytes_per_token), K and V of every cache layer (SwiftKV models
// need fewer cache layers, hence more blocks). Throws Error when that is not even one sequence
// of `max_model_len` tokens (0: the model's max_position_embeddings), naming the memory needed.
int64_t plan_num_blocks(const LlamaModel& model, int64_t kv_cache_memory_bytes, int64_t block_size,
                        int64_t max_model_len = 0);

struct GpuCachePlan {
  int64_t num_blocks = 0;
  int64_t bytes_per_block = 0;
  int64_t used_bytes = 0;   // device memory in use after the profiling step (all processes)
  int64_t total_bytes = 0;  // device memory
};

// The KV cache of a CUDA model, vLLM's --gpu-memory-utilization rule: after weights and
// activation buffers exist, runs one worst-case step (max_num_batched_tokens prompt tokens in
// sequences of up to max_model_len - 1 tokens, at most max_num_seqs of them, each needing
// logits) over a temporary cache, so that lazily sized workspaces are counted, then gives the
// cache the rest of `utilization` x total device memory:
//   num_blocks = (total x utilization - used now) / bytes_per_block.
// Throws Error when that is not even one sequence of `max_model_len` tokens, naming the
// memory needed. Costs one forward step.
GpuCachePlan plan_gpu_num_blocks(StepModel& model, double utilization, int64_t block_size,
                                 int64_t max_model_len, int64_t max_num_batched_tokens,
                                 int64_t max_num_seqs);

}  // namespace swiftkv
