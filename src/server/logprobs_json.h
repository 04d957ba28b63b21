// The two OpenAI logprobs shapes, built from the engine's TokenLogprobs.
//
// Token strings are the token decoded on its own (vLLM's default, e.g. " the" for "▁the" in
// context is "the" alone for SentencePiece), `bytes` are the token's raw bytes. Non-finite
// log-probabilities (a masked token) are written as -9999.0, as vLLM does, since JSON has no
// infinity.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "engine/request.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv::server {

// Completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"}. `prompt_ids` come
// first with null log-probabilities (echo); `text_offset` is the offset of the first token.
nlohmann::json completion_logprobs(const Tokenizer& tokenizer, std::span<const int32_t> prompt_ids,
                                   std::span<const TokenLogprobs> tokens, size_t text_offset);

// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}.
nlohmann::json chat_logprobs(const Tokenizer& tokenizer, std::span<const TokenLogprobs> tokens);

}  // namespace swiftkv::server
