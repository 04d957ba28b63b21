// The Llama / Llama-SwiftKV forward pass (DESIGN.md §1, §3) as a sequence of ops over a batch.
//
// With SwiftKV active, one step runs in two phases: Phase A takes every token through layers
// [0, l), computes s = norm_swiftkv(x_l) and writes the K/V of every later cache layer from it;
// Phase B takes only the rows that need logits through layers [l, L). `kNoSkip` runs every
// row through Phase B (a debug mode that must give the same logits), `kOff` runs the original
// Llama wiring from the same checkpoint (the teacher). Plain Llama checkpoints always run the
// original wiring.
//
// Thread-safety: forward() is const and may run concurrently on different caches.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "model/batch.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/weights.h"
#include "ops/context.h"

namespace swiftkv {

enum class SwiftKVMode {
  kOn,      // two-phase execution: rows without logits stop at layer l
  kNoSkip,  // SwiftKV wiring, every row through every layer (debug)
  kOff,     // the original wiring (teacher) from the same checkpoint
};

class LlamaModel {
 public:
  LlamaModel(ModelConfig config, ModelWeights weights, SwiftKVMode mode);
  LlamaModel(const LlamaModel&) = delete;
  LlamaModel& operator=(const LlamaModel&) = delete;

  const ModelConfig& config() const { return config_; }
  SwiftKVMode mode() const { return mode_; }
  // True when this model runs the SwiftKV wiring (a SwiftKV checkpoint, mode != kOff).
  bool swiftkv_active() const { return swiftkv_active_; }

  // Cache layers this model needs and the cache layer each model layer uses.
  int64_t num_cache_layers() const;
  int64_t cache_layer_of(int64_t layer) const;
  // The cache shape for `num_blocks` blocks of `block_size` tokens.
  KvCacheShape cache_shape(int64_t num_blocks, int64_t block_size) const;

  // Runs one step. Writes every token's K/V into `cache` and returns the logits of the rows
  // selected by batch.num_logits: [sum(num_logits), vocab_size] f32, in row order.
  Tensor forward(const ops::Context& ctx, const BatchView& batch, const KvCache& cache) const;

  // Parameters counted once (a tied head is not counted twice); for throughput accounting.
  int64_t num_parameters() const;

 private:
  struct Rows;  // the rows one phase runs on (hidden states, positions, attention metadata)

  void attention_block(const ops::Context& ctx, int64_t layer, const Rows& rows,
                       const KvCache& cache) const;
  void mlp_block(const ops::Context& ctx, int64_t layer, const Tensor& hidden) const;
  void write_swiftkv_cache(const ops::Context& ctx, const Tensor& hidden, const BatchView& batch,
                           const KvCache& cache) const;

  ModelConfig config_;
  ModelWeights weights_;
  SwiftKVMode mode_;
  bool swiftkv_active_;
  Tensor inv_freq_;  // [head_dim / 2] f32
};

}  // namespace swiftkv
