// Sampling on the device for the rows whose parameters the GPU sampler supports (greedy,
// temperature, top-k, top-p, min-p, seed; ops/sample_tokens.h), so a CUDA step copies one token
// per row to the host instead of [num_rows, vocab_size] f32 logits (~5 ms at 256 rows of the
// Llama 3 vocabulary). Rows that need penalties, logit_bias, min_tokens masking or logprobs are
// the model runner's to sample on the host (Sampler::device_sampleable()).
//
// Draws: each row uses its request's Sampler::draw_seed() and, as offset, the number of tokens
// it has generated, so a seeded request draws the same token for the same logits whatever else
// is in the batch (on the GPU; the host sampler's stream of draws differs). Greedy rows are the
// argmax, first on ties, like the host sampler.
//
// Owns static device buffers of max_rows rows, allocated once. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "engine/sampler.h"
#include "ops/context.h"
#include "ops/device.h"

namespace swiftkv {

// One row to sample: its parameters (null: a row the caller samples elsewhere; it runs greedy
// here and its result is meaningless) and the index of the token among the row's generated
// tokens (the draw's offset).
struct DeviceSampleRow {
  const Sampler* sampler = nullptr;
  int64_t offset = 0;
};

class DeviceSampler {
 public:
  DeviceSampler(const ops::Context& ctx, int64_t max_rows);

  // Queues the sampling of row i of `logits` ([num_rows, vocab_size] f32 on the device) with
  // rows[i] and the download of the tokens; returns without waiting. The tokens stay in
  // device_tokens() until the next launch.
  void launch(const Tensor& logits, const std::vector<DeviceSampleRow>& rows);
  // The tokens of the oldest launch not yet collected (waits for the device). At most 3
  // launches may be outstanding.
  std::vector<int32_t> collect();
  // launch(), then `while_device_runs` (optional, must not throw), then collect().
  std::vector<int32_t> sample(const Tensor& logits, const std::vector<DeviceSampleRow>& rows,
                              const std::function<void()>& while_device_runs = {});

  // [max_rows] i32 on the device: the last launch's tokens in its first rows.
  const Tensor& device_tokens() const { return tokens_; }

 private:
  ops::Context ctx_;
  int64_t max_rows_;
  Tensor tokens_;  // [max_rows] i32, device
  Tensor params_;  // [8 x max_rows] i32, device: the per-row parameter words (.cc has the layout)
  std::deque<ops::PendingDownload> downloads_;  // launched, not collected, oldest first
};

}  // namespace swiftkv
