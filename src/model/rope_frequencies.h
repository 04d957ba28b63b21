// RoPE inverse frequencies, computed exactly as Hugging Face transformers does
// (`modeling_rope_utils.py`: `_compute_default_rope_parameters`,
// `_compute_linear_scaling_rope_parameters`, `_compute_llama3_parameters`).
//
// transformers builds `inv_freq` with float32 torch ops on the CPU; we reproduce each op's
// float32 result by evaluating it in double and rounding to float (exact for + - * /, correctly
// rounded for pow, which torch computes to within 1 ulp). Python's `scalar / tensor` is
// `tensor.reciprocal() * scalar` in torch, and that order is kept too. Checked against
// transformers 5.17 / torch 2.11 (LlamaRotaryEmbedding.inv_freq, CPU): bit-identical for llama3
// (factor 8 and 32, and odd low/high factors), linear and default configs, except that torch's
// vectorised powf (<= 1 ulp) can differ from our correctly rounded pow by 1 ulp on a few
// entries (seen: 1 of 64 for rope_theta 1e6).
// Pure functions of the config; thread-safe.
#pragma once

#include <vector>

#include "model/config.h"

namespace swiftkv {

struct RopeFrequencies {
  std::vector<float> inv_freq;  // [head_dim / 2]; angle of pair i at position p = p * inv_freq[i]
  float attention_scaling = 1.0F;  // multiplies cos and sin; 1.0 for default, linear, llama3
};

// Frequencies for the rotate-half (Hugging Face / NeoX) layout: pair i = (x[i], x[i + head_dim/2]).
RopeFrequencies rope_frequencies(const ModelConfig& config);

// Shorthand for rope_frequencies(config).inv_freq.
std::vector<float> rope_inv_freq(const ModelConfig& config);

}  // namespace swiftkv
