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
#include <functional>
#include <vector>

#include "core/tensor.h"
#include "engine/sampler.h"
#include "ops/context.h"

namespace swiftkv {

class DeviceSampler {
 public:
  DeviceSampler(const ops::Context& ctx, int64_t max_rows);

  // tokens[i] for every row i of `logits` ([num_rows, vocab_size] f32 on the device) with
  // samplers[i]'s parameters; a null sampler marks a row the caller samples elsewhere (it runs
  // greedy here and its result is meaningless). Waits for the device; `while_device_runs`
  // (optional, must not throw) is called once all the step's device work is queued, before
  // the wait, so host work overlaps the device's.
  std::vector<int32_t> sample(const Tensor& logits, const std::vector<const Sampler*>& samplers,
                              const std::function<void()>& while_device_runs = {});

 private:
  ops::Context ctx_;
  int64_t max_rows_;
  Tensor tokens_;  // [max_rows] i32, device
  Tensor params_;  // [8 x max_rows] i32, device: the per-row parameter words (.cc has the layout)
};

}  // namespace swiftkv
