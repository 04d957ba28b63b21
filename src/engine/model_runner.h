// Runs one scheduled step on the model: builds ONE BatchView for all scheduled sequences over
// the shared paged KvCache, calls LlamaModel::forward once, and samples each sampling
// sequence's logits row with its own Sampler (DESIGN.md §3).
//
// Batch layout: the scheduled sequences' new tokens are flattened in SchedulerOutput order;
// slot_mapping comes from each block table; attention metadata holds per-sequence
// query_start_loc, kv_lens (= computed + new tokens) and block tables padded with block 0 to
// the longest one (padding is never read: kv_lens bounds every read). num_logits is 1 for a
// sequence that samples this step and 0 otherwise (non-final prefill chunks: with SwiftKV those
// rows stop at layer l). Rows are computed independently, so on CPU a sequence's tokens do not
// depend on what else is in the batch.
//
// execute() never throws: a failed forward pass is reported in RunnerOutput::error, a failed
// sampling call in that sequence's SampledToken::error. Not thread-safe (the engine thread).
#pragma once

#include <cstdint>

#include "engine/step_data.h"
#include "model/batch.h"
#include "model/kv_cache.h"
#include "model/llama_model.h"
#include "ops/context.h"

namespace swiftkv {

class ModelRunner {
 public:
  // Allocates the KV cache: num_blocks blocks of block_size tokens in every cache layer.
  ModelRunner(const LlamaModel& model, ops::Context ctx, int64_t num_blocks, int64_t block_size);
  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  RunnerOutput execute(const SchedulerOutput& out);

  // The BatchView of a step (exposed for tests).
  BatchView make_batch(const SchedulerOutput& out) const;

  const KvCache& cache() const { return cache_; }

 private:
  const LlamaModel& model_;
  ops::Context ctx_;
  int64_t block_size_;
  KvCache cache_;
};

}  // namespace swiftkv
