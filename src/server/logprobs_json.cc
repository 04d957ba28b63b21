// OpenAI logprobs JSON; see logprobs_json.h.
#include "server/logprobs_json.h"

#include <cmath>

namespace swiftkv::server {
namespace {

using nlohmann::json;

double finite(float logprob) { return std::isfinite(logprob) ? logprob : -9999.0; }

std::string token_text(const Tokenizer& tokenizer, int32_t id) {
  const int32_t ids[1] = {id};
  return tokenizer.decode(ids, /*skip_special_tokens=*/false);
}

json token_bytes(const Tokenizer& tokenizer, int32_t id) {
  std::string raw;
  tokenizer.append_token_bytes(id, raw);
  json bytes = json::array();
  for (const char c : raw) {
    bytes.push_back(static_cast<int>(static_cast<unsigned char>(c)));
  }
  return bytes;
}

}  // namespace

json completion_logprobs(const Tokenizer& tokenizer, std::span<const int32_t> prompt_ids,
                         std::span<const TokenLogprobs> tokens, size_t text_offset) {
  json strings = json::array();
  json logprobs = json::array();
  json tops = json::array();
  json offsets = json::array();
  size_t offset = text_offset;
  for (const int32_t id : prompt_ids) {
    std::string text = token_text(tokenizer, id);
    offsets.push_back(offset);
    offset += text.size();
    strings.push_back(std::move(text));
    logprobs.push_back(nullptr);
    tops.push_back(nullptr);
  }
  for (const TokenLogprobs& token : tokens) {
    std::string text = token_text(tokenizer, token.token);
    offsets.push_back(offset);
    offset += text.size();
    json top = json::object();
    top[text] = finite(token.logprob);
    for (const TopLogprob& alt : token.top) {
      top[token_text(tokenizer, alt.token)] = finite(alt.logprob);
    }
    strings.push_back(std::move(text));
    logprobs.push_back(finite(token.logprob));
    tops.push_back(std::move(top));
  }
  return {{"tokens", std::move(strings)},
          {"token_logprobs", std::move(logprobs)},
          {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

json chat_logprobs(const Tokenizer& tokenizer, std::span<const TokenLogprobs> tokens) {
  json content = json::array();
  for (const TokenLogprobs& token : tokens) {
    json top = json::array();
    for (const TopLogprob& alt : token.top) {
      top.push_back({{"token", token_text(tokenizer, alt.token)},
                     {"logprob", finite(alt.logprob)},
                     {"bytes", token_bytes(tokenizer, alt.token)}});
    }
    content.push_back({{"token", token_text(tokenizer, token.token)},
                       {"logprob", finite(token.logprob)},
                       {"bytes", token_bytes(tokenizer, token.token)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

}  // namespace swiftkv::server
