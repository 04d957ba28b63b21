// Token sampling from one row of logits: penalties, logit bias, temperature, min-p, top-k,
// top-p, then a draw from the request's own seeded generator (or argmax when greedy).
//
// Order (vLLM's): logit_bias and min_tokens masking, repetition/presence/frequency penalties,
// the JSON-object mask (response_format json_object: tokens that cannot continue the output as
// a JSON object, json_prefix.h), temperature, min_p, top_k, top_p, sample. Each request owns one
// Sampler (its RNG state); not thread-safe, cost O(vocab log vocab) only when top-k/top-p are
// active.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/json_prefix.h"
#include "engine/sampling_params.h"

namespace swiftkv {

// What each token adds to the text, for the JSON-object constraint: bytes[id] (empty for special
// tokens, which the constraint masks). Built once per tokenizer (EngineCore).
struct TokenTexts {
  std::vector<std::string> bytes;
  std::vector<bool> special;
};

class Sampler {
 public:
  // `eos_ids` are the model's end tokens (masked until min_tokens are out).
  Sampler(SamplingParams params, std::vector<int32_t> eos_ids);

  // Registers the prompt (for the repetition penalty).
  void set_prompt(std::span<const int32_t> prompt);
  // Chooses the next token from `logits` (modified in place) given the output so far.
  int32_t sample(std::span<float> logits);
  // Records a generated token (the sampled one, or one forced by the caller).
  void accept(int32_t token);
  // From now on only tokens that keep the output (from here on) a prefix of a JSON object are
  // drawn; the end tokens (eos_ids, stop_token_ids) only once the object is closed, and after
  // it only whitespace. sample() throws Error if no token of the vocabulary continues it.
  void constrain_to_json_object(std::shared_ptr<const TokenTexts> texts);

  const SamplingParams& params() const { return params_; }
  // True when sample() would only apply temperature, min-p, top-k, top-p and the draw (no
  // logit_bias, no penalties, no EOS / stop-token masking left for min_tokens), so the GPU
  // sampler (ops/sample_tokens.h) may sample this row instead. The caller also keeps rows that
  // need logprobs on the host.
  bool device_sampleable() const;
  // The seed of this request's draws on the device: params().seed, else a random one chosen at
  // construction.
  uint64_t draw_seed() const { return draw_seed_; }
  int32_t num_generated() const { return static_cast<int32_t>(output_.size()); }

 private:
  void apply_penalties(std::span<float> logits) const;
  // The JSON-object constraint: may `token` come next; masks the others (sampling); the best
  // allowed token (greedy). Both throw Error when no token is allowed.
  bool json_allows(int32_t token) const;
  void mask_non_json(std::span<float> logits) const;
  int32_t json_argmax(std::span<const float> logits) const;

  SamplingParams params_;
  std::vector<int32_t> eos_ids_;
  std::vector<int32_t> prompt_;
  std::vector<int32_t> output_;
  std::unordered_map<int32_t, int32_t> output_counts_;
  uint64_t draw_seed_ = 0;
  std::mt19937_64 rng_;
  std::shared_ptr<const TokenTexts> json_texts_;  // null: unconstrained
  JsonObjectPrefix json_;
};

// Index of the largest value (the first one on ties).
int32_t argmax(std::span<const float> values);

}  // namespace swiftkv
