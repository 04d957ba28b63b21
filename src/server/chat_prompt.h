// Chat messages -> prompt token ids, through the model's chat template (tokenizer_config.json
// or --chat-template), for /v1/chat/completions and /tokenize.
//
// `messages`: a list of {"role": string, "content": string | [{"type": "text", "text"}] |
// null, ...}; content parts are joined with "\n" (vLLM's "string" content format), other
// keys are passed to the template as they are. The template sees bos_token, eos_token and the
// request's `chat_template_kwargs`. The rendered text is encoded with
// `add_special_tokens` (default false: the template writes BOS itself, as transformers'
// apply_chat_template assumes). Errors are ApiError 400 naming the field.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "server/server_context.h"

namespace swiftkv::server {

std::vector<int32_t> chat_prompt_ids(const ServerContext& context, const Tokenizer& tokenizer,
                                     const nlohmann::json& body);

}  // namespace swiftkv::server
