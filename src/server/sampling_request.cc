// Parsing of the shared generation fields; see sampling_request.h.
#include "server/sampling_request.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "server/api_error.h"
#include "server/request_fields.h"

namespace swiftkv::server {
namespace {

using nlohmann::json;

void check_token_id(std::string_view key, int64_t id, int64_t vocab_size) {
  if (id < 0 || id >= vocab_size) {
    throw invalid_request(str_cat("'", key, "' contains token id ", id,
                                  ", outside the vocabulary [0, ", vocab_size, ")"),
                          std::string(key));
  }
}

void parse_logit_bias(const json& body, int64_t vocab_size, SamplingParams& s) {
  const json* bias = fields::get_object(body, "logit_bias");
  if (bias == nullptr) {
    return;
  }
  for (const auto& [key, value] : bias->items()) {
    size_t used = 0;
    int64_t id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != key.size()) {
      throw invalid_request(str_cat("'logit_bias' keys must be token ids, got '", key, "'"),
                            "logit_bias");
    }
    check_token_id("logit_bias", id, vocab_size);
    if (!value.is_number()) {
      throw invalid_request(str_cat("'logit_bias' values must be numbers, got ", value.dump()),
                            "logit_bias");
    }
    const double v = value.get<double>();
    fields::check_range("logit_bias", v, -100.0, 100.0);
    s.logit_bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(v));
  }
}

void parse_stream(const json& body, GenerationOptions& o) {
  o.stream = fields::get_bool(body, "stream").value_or(false);
  const json* stream_options = fields::get_object(body, "stream_options");
  if (stream_options == nullptr) {
    return;
  }
  if (!o.stream) {
    throw invalid_request("'stream_options' can only be set when 'stream' is true",
                          "stream_options");
  }
  o.include_usage = fields::get_bool(*stream_options, "include_usage").value_or(false);
  fields::get_bool(*stream_options, "continuous_usage_stats");  // type-checked, not supported
}

void parse_logprobs(const json& body, Endpoint endpoint, GenerationOptions& o) {
  if (endpoint == Endpoint::kCompletions) {
    if (const auto k = fields::get_int(body, "logprobs")) {
      fields::check_range("logprobs", static_cast<double>(*k), 0, kMaxLogprobs);
      o.logprobs = static_cast<int32_t>(*k);
    }
    return;
  }
  const bool wanted = fields::get_bool(body, "logprobs").value_or(false);
  const std::optional<int64_t> top = fields::get_int(body, "top_logprobs");
  if (top) {
    fields::check_range("top_logprobs", static_cast<double>(*top), 0, kMaxLogprobs);
    if (!wanted) {
      throw invalid_request("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
    }
  }
  if (wanted) {
    o.logprobs = static_cast<int32_t>(top.value_or(0));
  }
}

void parse_unsupported(const json& body, Endpoint endpoint, const GenerationOptions& o) {
  // Accepted and ignored, but type-checked.
  fields::get_string(body, "user");
  fields::get_string(body, "service_tier");
  fields::get_bool(body, "store");
  fields::get_object(body, "metadata");
  fields::get_bool(body, "parallel_tool_calls");
  fields::get_bool(body, "skip_special_tokens");
  if (const auto best_of = fields::get_int(body, "best_of"); best_of && *best_of != o.n) {
    throw invalid_request("'best_of' other than n is not supported", "best_of");
  }
  if (endpoint == Endpoint::kCompletions) {
    if (const auto suffix = fields::get_string(body, "suffix"); suffix && !suffix->empty()) {
      throw invalid_request("'suffix' is not supported", "suffix");
    }
    return;
  }
  if (const json* tools = fields::get_array(body, "tools"); tools && !tools->empty()) {
    throw invalid_request("'tools' (function calling) is not supported", "tools");
  }
}

// response_format (chat, and completions as vLLM accepts it): "text" or "json_object".
void parse_response_format(const json& body, SamplingParams& s) {
  const json* format = fields::get_object(body, "response_format");
  if (format == nullptr) {
    return;
  }
  const std::string type = fields::get_string(*format, "type").value_or("text");
  if (type == "json_schema") {
    throw invalid_request("response_format 'json_schema' is not supported", "response_format");
  }
  if (type != "text" && type != "json_object") {
    throw invalid_request(
        str_cat("response_format.type must be 'text' or 'json_object', got '", type, "'"),
        "response_format");
  }
  s.json_object = type == "json_object";
}

}  // namespace

GenerationOptions parse_generation_options(const json& body, Endpoint endpoint,
                                           int64_t vocab_size) {
  GenerationOptions o;
  SamplingParams& s = o.sampling;
  if (const auto v = fields::get_number(body, "temperature")) {
    fields::check_min("temperature", *v, 0.0);
    s.temperature = static_cast<float>(*v);
  }
  if (const auto v = fields::get_number(body, "top_p")) {
    if (*v <= 0.0 || *v > 1.0) {
      throw invalid_request(str_cat("'top_p' must be in (0, 1], got ", *v), "top_p");
    }
    s.top_p = static_cast<float>(*v);
  }
  if (const auto v = fields::get_int(body, "top_k")) {
    fields::check_min("top_k", static_cast<double>(*v), -1);
    s.top_k = *v < 0 ? 0 : static_cast<int32_t>(std::min<int64_t>(*v, vocab_size));
  }
  if (const auto v = fields::get_number(body, "min_p")) {
    fields::check_range("min_p", *v, 0.0, 1.0);
    s.min_p = static_cast<float>(*v);
  }
  if (const auto v = fields::get_number(body, "presence_penalty")) {
    fields::check_range("presence_penalty", *v, -2.0, 2.0);
    s.presence_penalty = static_cast<float>(*v);
  }
  if (const auto v = fields::get_number(body, "frequency_penalty")) {
    fields::check_range("frequency_penalty", *v, -2.0, 2.0);
    s.frequency_penalty = static_cast<float>(*v);
  }
  if (const auto v = fields::get_number(body, "repetition_penalty")) {
    if (*v <= 0.0) {
      throw invalid_request(str_cat("'repetition_penalty' must be > 0, got ", *v),
                            "repetition_penalty");
    }
    s.repetition_penalty = static_cast<float>(*v);
  }
  if (const auto v = fields::get_int(body, "seed")) {
    s.seed = static_cast<uint64_t>(*v);
  }
  if (const auto v = fields::get_int(body, "n")) {
    fields::check_range("n", static_cast<double>(*v), 1, kMaxN);
    o.n = *v;
  }
  const char* max_key = "max_tokens";
  std::optional<int64_t> max_tokens;
  if (endpoint == Endpoint::kChat) {
    max_tokens = fields::get_int(body, "max_completion_tokens");
    if (max_tokens) {
      max_key = "max_completion_tokens";
    }
  }
  if (!max_tokens) {
    max_tokens = fields::get_int(body, "max_tokens");
  }
  if (max_tokens) {
    fields::check_min(max_key, static_cast<double>(*max_tokens), 1);
    o.max_tokens = max_tokens;
  }
  if (const auto v = fields::get_int(body, "min_tokens")) {
    fields::check_min("min_tokens", static_cast<double>(*v), 0);
    s.min_tokens = static_cast<int32_t>(std::min<int64_t>(*v, INT32_MAX));
  }
  if (auto stop = fields::get_string_or_list(body, "stop")) {
    for (std::string& text : *stop) {
      if (!text.empty()) {
        s.stop.push_back(std::move(text));
      }
    }
  }
  if (const auto ids = fields::get_int_list(body, "stop_token_ids")) {
    for (const int32_t id : *ids) {
      check_token_id("stop_token_ids", id, vocab_size);
    }
    s.stop_token_ids = *ids;
  }
  s.ignore_eos = fields::get_bool(body, "ignore_eos").value_or(false);
  parse_logit_bias(body, vocab_size, s);
  parse_stream(body, o);
  parse_logprobs(body, endpoint, o);
  if (endpoint == Endpoint::kCompletions) {
    o.echo = fields::get_bool(body, "echo").value_or(false);
  }
  parse_unsupported(body, endpoint, o);
  parse_response_format(body, s);
  return o;
}

void resolve_max_tokens(GenerationOptions& options, int64_t num_prompt_tokens,
                        int64_t max_model_len, Endpoint endpoint) {
  const char* prompt_field = endpoint == Endpoint::kChat ? "messages" : "prompt";
  if (num_prompt_tokens + 1 > max_model_len) {
    throw ApiError(400, "invalid_request_error",
                   str_cat("This model's maximum context length is ", max_model_len,
                           " tokens. However, your prompt has ", num_prompt_tokens,
                           " tokens, which leaves no room for output. Please reduce the "
                           "length of the ",
                           prompt_field, "."),
                   prompt_field, "context_length_exceeded");
  }
  int64_t max_tokens = 0;
  if (options.max_tokens) {
    max_tokens = *options.max_tokens;
    if (num_prompt_tokens + max_tokens > max_model_len) {
      throw ApiError(400, "invalid_request_error",
                     str_cat("This model's maximum context length is ", max_model_len,
                             " tokens. However, you requested ", num_prompt_tokens + max_tokens,
                             " tokens (", num_prompt_tokens, " in the ", prompt_field, ", ",
                             max_tokens, " in the completion). Please reduce the length of the ",
                             prompt_field, " or completion."),
                     prompt_field, "context_length_exceeded");
    }
  } else if (endpoint == Endpoint::kCompletions) {
    max_tokens = std::min(kDefaultCompletionMaxTokens, max_model_len - num_prompt_tokens);
  } else {
    max_tokens = max_model_len - num_prompt_tokens;
  }
  options.sampling.max_tokens = static_cast<int32_t>(std::min<int64_t>(max_tokens, INT32_MAX));
  if (options.sampling.min_tokens > options.sampling.max_tokens) {
    throw invalid_request(
        str_cat("'min_tokens' (", options.sampling.min_tokens, ") must not exceed max_tokens (",
                options.sampling.max_tokens, ")"),
        "min_tokens");
  }
}

}  // namespace swiftkv::server
