// What goes into the serving engine and what comes out of it (plain data, no JSON).
//
// The server parses and validates at the edge (JSON, chat template, tokenization), builds a
// Request, and receives RequestOutput deltas on the engine thread through a callback. `n > 1`
// choices are submitted by the server as n requests (their own ids and seeds) that share the
// prompt's prefix-cache blocks.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/generator.h"  // FinishReason
#include "engine/sampling_params.h"

namespace swiftkv {

using SteadyTime = std::chrono::steady_clock::time_point;

struct Request {
  std::string id;                   // unique among live requests
  std::vector<int32_t> prompt_ids;  // BOS included when wanted
  SamplingParams sampling;
  int32_t logprobs = -1;               // -1: none; k >= 0: sampled token's logprob + top-k
  std::optional<SteadyTime> deadline;  // per-request timeout; past it the request ends "abort"
};

struct TopLogprob {
  int32_t token = 0;
  float logprob = 0.0F;
};

struct TokenLogprobs {
  int32_t token = 0;            // the sampled token
  float logprob = 0.0F;         // its log-probability (after temperature/penalties, like vLLM's
                                // "processed" mode: the distribution it was drawn from)
  std::vector<TopLogprob> top;  // the `logprobs` most likely tokens, most likely first
};

enum class FinishStatus {
  kRunning,  // more output will follow
  kStop,     // EOS, stop token or stop string
  kLength,   // max_tokens or the context
  kAbort,    // cancelled by the client, deadline passed, or shutdown timeout
  kError,    // the engine failed on this request; `error` says why
};

// One delta of a request's output. Deltas are delivered in order; the last has
// status != kRunning. Text deltas never split a UTF-8 character and never contain (any part
// of) a stop string.
struct RequestOutput {
  std::string request_id;
  std::vector<int32_t> new_token_ids;
  std::string new_text;
  std::vector<TokenLogprobs> new_logprobs;  // one per new token when logprobs >= 0
  FinishStatus status = FinishStatus::kRunning;
  std::string error;  // when status == kError
  int64_t num_prompt_tokens = 0;
  int64_t num_cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
  int64_t num_output_tokens = 0;         // total so far
  SteadyTime arrival_time{};
  std::optional<SteadyTime> first_token_time;
};

}  // namespace swiftkv
