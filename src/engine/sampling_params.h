// Per-request sampling parameters, with the semantics of vLLM / the OpenAI API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace swiftkv {

// Whether `id` is one of `ids` (end-of-sequence ids, stop_token_ids).
inline bool contains_token(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

struct SamplingParams {
  float temperature = 1.0F;         // 0 = greedy
  int32_t top_k = 0;                // 0 or -1 = off
  float top_p = 1.0F;               // 1 = off
  float min_p = 0.0F;               // 0 = off; keeps tokens with p >= min_p * max p
  std::optional<uint64_t> seed;     // reproducible sampling when set
  float repetition_penalty = 1.0F;  // over prompt and output tokens (CTRL / HF semantics)
  float presence_penalty = 0.0F;    // over output tokens (OpenAI semantics)
  float frequency_penalty = 0.0F;   // over output tokens, times their count
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the logits before sampling
  int32_t max_tokens = 16;
  int32_t min_tokens = 0;         // EOS and stop token ids are masked until this many are generated
  std::vector<std::string> stop;  // stop strings (not included in the output)
  std::vector<int32_t> stop_token_ids;  // stop tokens (not included in the text)
  bool ignore_eos = false;
  // response_format json_object: the output is constrained to (a prefix of) a JSON object
  // (Sampler::constrain_to_json_object; the engine installs it, which needs a tokenizer).
  bool json_object = false;

  bool greedy() const { return temperature < kGreedyTemperature; }

  // Throws Error naming the field when a value is out of range.
  void validate(int64_t vocab_size) const;

  static constexpr float kGreedyTemperature = 1e-5F;
};

}  // namespace swiftkv
