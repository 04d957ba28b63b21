// Tensor parallelism (issue 6, Megatron-style): how a Llama / Llama-SwiftKV model is split over
// `size` ranks, one GPU each. Pure arithmetic, no devices: the CUDA model uses it to slice its
// weights and size its buffers and cache, and CPU tests check it.
//
//   - Attention: rank r owns query heads [r H/N, (r+1) H/N). QKV (and each SwiftKV layer's Q) is
//     column-parallel: the rank computes its heads only. K/V heads are sharded the same way when
//     N <= KV (rank r owns KV heads [r KV/N, (r+1) KV/N)), and replicated when N > KV (rank r
//     owns the one KV head its query heads use: head r / (N / KV)). The paged cache and the
//     SwiftKV fused K/V projection follow the rank's KV heads.
//   - o_proj and down_proj are row-parallel: each rank multiplies its slice of the input
//     features, and an all-reduce sums the partial outputs.
//   - MLP: rank r owns intermediate features [r I/N, (r+1) I/N) of gate, up (column-parallel)
//     and down (row-parallel).
//   - Vocabulary: rank r owns token rows [r V_s, min(V, (r+1) V_s)) of the embedding and lm_head,
//     V_s = ceil(V / N); the embedding gives zero rows for other tokens (all-reduced), and the
//     logits of every rank's rows are all-gathered.
#pragma once

#include <cstdint>

#include "model/config.h"

namespace swiftkv {

struct TensorParallelShard {
  int64_t rank = 0;
  int64_t size = 1;
  int64_t num_heads = 0;      // query heads of this rank
  int64_t first_head = 0;     // its first query head (global index)
  int64_t num_kv_heads = 0;   // K/V heads of this rank
  int64_t first_kv_head = 0;  // its first K/V head (global index)
  int64_t intermediate_size = 0;
  int64_t first_intermediate = 0;
  int64_t vocab_shard_rows = 0;  // ceil(V / N): rows of every rank's embedding / lm_head shard
  int64_t vocab_begin = 0;       // the first token this rank owns
  int64_t vocab_end = 0;         // one past the last (vocab_end - vocab_begin <= shard rows)

  // The shard of `rank` of `size`; throws Error naming the reason when the model cannot be split
  // so (heads, KV heads or intermediate size not divisible; size < 1; rank out of range).
  static TensorParallelShard of(const ModelConfig& config, int64_t rank, int64_t size);

  // The config of the rank's part: heads, KV heads and intermediate size of the shard; everything
  // else (hidden size, head_dim, vocabulary, layers, SwiftKV) as the full model.
  ModelConfig local_config(const ModelConfig& full) const;
};

}  // namespace swiftkv
