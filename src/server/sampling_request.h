// The generation settings shared by /v1/completions and /v1/chat/completions: sampling
// parameters, n, streaming, logprobs. Parsing validates every field the OpenAI / vLLM API
// defines for these endpoints and throws ApiError 400 naming the field; unknown fields are
// ignored (as vLLM does). Fields accepted and ignored: `user`, `service_tier`, `store`,
// `metadata`, `parallel_tool_calls`, `skip_special_tokens` (type-checked all the same).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/sampling_params.h"

namespace swiftkv::server {

enum class Endpoint { kCompletions, kChat };

struct GenerationOptions {
  SamplingParams sampling;            // max_tokens is set by resolve_max_tokens()
  std::optional<int64_t> max_tokens;  // as requested (max_completion_tokens / max_tokens)
  int64_t n = 1;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int32_t logprobs = -1;       // -1: none; k >= 0: sampled token's logprob + top k
  bool echo = false;           // completions only: prepend the prompt to the text
};

inline constexpr int64_t kMaxN = 128;
inline constexpr int64_t kMaxLogprobs = 20;                 // vLLM's default max_logprobs
inline constexpr int64_t kDefaultCompletionMaxTokens = 16;  // OpenAI / vLLM completions

// Parses the generation fields of `body` (an object). `vocab_size` bounds token ids in
// stop_token_ids and logit_bias.
GenerationOptions parse_generation_options(const nlohmann::json& body, Endpoint endpoint,
                                           int64_t vocab_size);

// Sets options.sampling.max_tokens: the requested value, else 16 for completions and the rest
// of the context for chat. Throws 400 (param = the prompt field, code
// "context_length_exceeded", with the numbers) when the prompt leaves no room for one token or
// prompt + max_tokens exceeds max_model_len; and when min_tokens > max_tokens.
void resolve_max_tokens(GenerationOptions& options, int64_t num_prompt_tokens,
                        int64_t max_model_len, Endpoint endpoint);

}  // namespace swiftkv::server
