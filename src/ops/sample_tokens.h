// Token sampling on the device: one token per row of f32 logits, with per-row greedy /
// temperature / top-k / top-p / min-p and a seeded, counter-based draw (kernels/cuda/sampling.h
// has the exact semantics). Penalties, logit bias and EOS masking are not applied: the engine
// samples rows that need them on the host (engine/sampler.h), which is also the CPU backends'
// only sampler, so this op has a CUDA kernel only.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// Per-row parameters, device tensors of [num_rows] (seeds and offsets: [num_rows, 2] i32, the
// uint64 of each row as two little-endian halves). Values as in SamplingParams: temperature
// below 1e-5 is greedy (argmax, the first on ties), top_k <= 0 / top_p >= 1 / min_p <= 0 off.
// `offset` numbers the draws of one request (e.g. its tokens generated so far), so a seeded
// request draws the same token for the same logits whatever else is in the batch.
struct DeviceSamplingParams {
  Tensor temperatures;  // [num_rows] f32
  Tensor top_k;         // [num_rows] i32
  Tensor top_p;         // [num_rows] f32
  Tensor min_p;         // [num_rows] f32
  Tensor seeds;         // [num_rows, 2] i32
  Tensor offsets;       // [num_rows, 2] i32
};

// tokens: [num_rows] i32 (out); logits: [num_rows, vocab_size] f32. kCuda only; enqueued on
// ctx's stream (copy `tokens` to the host to wait for it).
void sample_tokens(const Context& ctx, const Tensor& tokens, const Tensor& logits,
                   const DeviceSamplingParams& params);

}  // namespace swiftkv::ops
