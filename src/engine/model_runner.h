// Runs one scheduled step on the model: builds ONE host BatchView for all scheduled sequences
// over the shared paged KvCache, calls StepModel::forward once (CPU or CUDA), and samples each
// sampling sequence's logits row with its own parameters (DESIGN.md §3).
//
// Batch layout: the scheduled sequences' new tokens are flattened in SchedulerOutput order;
// slot_mapping comes from each block table; attention metadata holds per-sequence
// query_start_loc, kv_lens (= computed + new tokens) and block tables padded with block 0 to
// the longest one (padding is never read: kv_lens bounds every read). num_logits is 1 for a
// sequence that samples this step and 0 otherwise (non-final prefill chunks: with SwiftKV those
// rows stop at layer l). Rows are computed independently, so on CPU a sequence's tokens do not
// depend on what else is in the batch (on CUDA, up to bf16 effects of GEMM shapes).
//
// Sampling: host logits (CPU) go through each sequence's Sampler. Device logits (CUDA) stay on
// the device: rows the GPU sampler supports (Sampler::device_sampleable(), no logprobs) are
// sampled there and only their token ids come back; each other row is copied to the host alone
// and sampled there (penalties, logit_bias, min_tokens masking, logprobs).
//
// Pipelined steps (CUDA, one device; engine/engine_core.h): launch() queues a step whose
// sampling rows are all GPU-sampled and returns at once; collect() later returns its tokens. A
// sequence's pending token (Sequence::kPendingToken, sampled by the step before) is read by the
// model from the device sampler's tokens (BatchView::token_source), so step N + 1 can be queued
// before step N's tokens reach the host.
//
// execute() and collect() never throw: a failed forward pass is reported in RunnerOutput::error,
// a failed sampling call in that sequence's SampledToken::error. Not thread-safe (the engine
// thread).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/device_sampler.h"
#include "engine/step_data.h"
#include "engine/step_model.h"
#include "model/batch.h"
#include "model/kv_cache.h"

namespace swiftkv {

class ModelRunner {
 public:
  // Allocates the KV cache where the model runs: num_blocks blocks of block_size tokens in every
  // cache layer; on CUDA also the device sampler's buffers for max_num_seqs rows.
  ModelRunner(StepModel& model, int64_t num_blocks, int64_t block_size, int64_t max_num_seqs);
  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  // `while_device_runs` (optional, must not throw): called at most once, while the device
  // computes the step (on CUDA, after the forward pass and the sampling are queued and before
  // waiting for the tokens); not called on the CPU, where the forward pass is synchronous.
  RunnerOutput execute(const SchedulerOutput& out,
                       const std::function<void()>& while_device_runs = {});

  // Whether `out` can be launched: the model reads device tokens and every sampling row is one
  // the GPU sampler takes (no logprobs, penalties, logit_bias, min_tokens or JSON constraint).
  bool can_launch(const SchedulerOutput& out) const;
  // Queues the step (never throws; a failure comes back from its collect()).
  void launch(const SchedulerOutput& out);
  // The output of the oldest launched step not yet collected (waits for its tokens).
  RunnerOutput collect();
  int64_t num_launched() const { return static_cast<int64_t>(launched_.size()); }

  // The BatchView of a step (exposed for tests).
  BatchView make_batch(const SchedulerOutput& out) const;

  const KvCache& cache() const { return cache_; }

 private:
  // Samples one row on the host (logits modified in place), filling `sampled`.
  static void sample_on_host(Sequence& seq, std::span<float> logits, SampledToken& sampled);
  void sample_on_device(const SchedulerOutput& out, const Tensor& logits, RunnerOutput& result,
                        const std::function<void()>& while_device_runs);

  // Whether the GPU sampler takes `seq`'s rows alone (no logprobs, no host-side parameters).
  static bool samples_on_device(const Sequence& seq);
  // The device sampler's row for each sampling sequence of `out` (sets pending_token_row).
  static std::vector<DeviceSampleRow> device_rows(const SchedulerOutput& out, bool all_on_device);

  struct Launched {  // a launched step, until collected
    size_t num_scheduled = 0;
    std::vector<size_t> rows;  // scheduled index of each sampled row
    std::string error;         // the step failed before its sampling was queued
  };

  StepModel& model_;
  int64_t block_size_;
  KvCache cache_;
  std::unique_ptr<DeviceSampler> device_sampler_;  // kCuda only
  std::deque<Launched> launched_;
};

}  // namespace swiftkv
