// Log-probabilities for the OpenAI `logprobs` / `top_logprobs` fields.
//
// `logits` is the row the token was sampled from, as the Sampler left it: logit bias, min_tokens
// masking, penalties and temperature applied (vLLM's "processed" logprobs, before top-k/top-p/
// min-p truncation). Masked tokens get -inf. Cost: O(vocab) plus O(vocab log k) for the top k.
#pragma once

#include <cstdint>
#include <span>

#include "engine/request.h"

namespace swiftkv {

// log_softmax(logits)[token], and the `num_top` most likely tokens (most likely first, lower id
// first on ties).
TokenLogprobs compute_logprobs(std::span<const float> logits, int32_t token, int32_t num_top);

}  // namespace swiftkv
