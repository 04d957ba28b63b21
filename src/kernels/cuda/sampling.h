// Token sampling on CUDA: greedy, temperature, min-p, top-k, top-p, seeded. Semantics follow
// engine/sampler.h (vLLM's order: temperature, min_p, top_k, top_p, draw); penalties and logit
// bias are not applied here (the caller adds them to the logits first).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// Per-row parameters are device arrays of [num_rows] so a batch can mix requests (and a CUDA
// graph can replay with new values written into the same buffers).
struct SamplingArgs {
  int32_t* tokens = nullptr;      // [num_rows] out: the chosen token ids
  const float* logits = nullptr;  // [num_rows, vocab_size] f32, row stride logits_stride
  int64_t logits_stride = 0;      // 0 = vocab_size
  int64_t num_rows = 0;
  int64_t vocab_size = 0;
  const float* temperatures = nullptr;  // < kGreedyTemperature: greedy (argmax, first on ties)
  const int32_t* top_k = nullptr;       // <= 0 or >= vocab_size: off
  const float* top_p = nullptr;         // >= 1: off; else in (0, 1)
  const float* min_p = nullptr;         // <= 0: off; keeps p >= min_p · max p
  const uint64_t* seeds = nullptr;      // the request's seed
  const uint64_t* offsets = nullptr;    // a per-draw counter (e.g. tokens generated so far)
};

inline constexpr float kGreedyTemperature = 1e-5F;  // engine/sampling_params.h's threshold

// One block of 512 threads per row; the logits are not modified and stay in L2 between passes.
// The kept set is {min-p survivors} ∩ {values >= the k-th largest} ∩ {the smallest top-valued
// prefix whose probability mass reaches top_p of the mass kept so far}; thresholds are found
// exactly by radix selection over the order-preserving bits of the f32 logits (3 passes of
// 11/11/10 bits; for top-p weighted by probability mass in 2^-40 fixed point, so results are
// deterministic). Ties at a threshold are all kept. The draw is the Gumbel-max trick: argmax
// over kept i of (logit_i - max) / T - ln(-ln u_i), u_i a counter-based hash of (the row's
// seed, offset, i): an exact sample from the renormalised distribution, the same token for the
// same (logits, parameters, seed, offset). Cost: 1 pass over the row (greedy, or temperature
// only) up to 9 passes (top-k, top-p and min-p together).
void sample_tokens(cudaStream_t stream, const SamplingArgs& args);

}  // namespace swiftkv::cuda
