// Request parsing and validation (request_fields.h, sampling_request.h) and the error shape
// (api_error.h): every rejected value names its field; no HTTP, no model.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/request_fields.h"
#include "server/sampling_request.h"

namespace swiftkv::server {
namespace {

using nlohmann::json;

constexpr int64_t kVocab = 512;

// The ApiError `fn` throws (fails the test when it throws nothing).
template <typename Fn>
ApiError error_of(Fn&& fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no ApiError thrown";
  return ApiError(0, "", "");
}

ApiError parse_error(const json& body, Endpoint endpoint = Endpoint::kCompletions) {
  return error_of([&] { parse_generation_options(body, endpoint, kVocab); });
}

TEST(ApiErrorTest, HasTheOpenAiShape) {
  const json j = invalid_request("bad 'temperature'", "temperature").to_json();
  EXPECT_EQ(j, json::parse(R"({"error": {"message": "bad 'temperature'",
      "type": "invalid_request_error", "param": "temperature", "code": null}})"));
  const ApiError missing = model_not_found("gpt-9");
  EXPECT_EQ(missing.status(), 404);
  EXPECT_EQ(missing.to_json()["error"]["code"], "model_not_found");
}

TEST(RequestFieldsTest, TypedGettersAcceptRightTypesAndNull) {
  const json body = json::parse(
      R"({"i": 5, "f": 5.0, "x": 0.5, "b": true, "s": "t", "l": ["a", "b"], "n": null,
          "ids": [1, 2.0]})");
  EXPECT_EQ(fields::get_int(body, "i"), 5);
  EXPECT_EQ(fields::get_int(body, "f"), 5);  // an integral float, as pydantic accepts
  EXPECT_EQ(fields::get_number(body, "i"), 5.0);
  EXPECT_EQ(fields::get_bool(body, "b"), true);
  EXPECT_EQ(fields::get_string(body, "s"), "t");
  EXPECT_EQ(fields::get_string_or_list(body, "s"), std::vector<std::string>{"t"});
  EXPECT_EQ(fields::get_string_or_list(body, "l"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(fields::get_int_list(body, "ids"), (std::vector<int32_t>{1, 2}));
  EXPECT_FALSE(fields::get_int(body, "n").has_value());
  EXPECT_FALSE(fields::get_int(body, "absent").has_value());
}

TEST(RequestFieldsTest, WrongTypesAreRejectedNamingTheField) {
  const json body = json::parse(
      R"({"x": 0.5, "s": "5", "b": 1, "t": true, "l": ["a", 1], "o": [], "big": 1e300})");
  for (const auto& [key, fn] : std::vector<std::pair<std::string, std::function<void()>>>{
           {"x", [&] { fields::get_int(body, "x"); }},
           {"s", [&] { fields::get_int(body, "s"); }},
           {"s", [&] { fields::get_number(body, "s"); }},
           {"b", [&] { fields::get_bool(body, "b"); }},
           {"t", [&] { fields::get_number(body, "t"); }},
           {"l", [&] { fields::get_string_or_list(body, "l"); }},
           {"o", [&] { fields::get_object(body, "o"); }},
           {"big", [&] { fields::get_int(body, "big"); }}}) {
    const ApiError e = error_of(fn);
    EXPECT_EQ(e.status(), 400) << key;
    EXPECT_EQ(e.param(), key);
    EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
  }
  EXPECT_EQ(error_of([] { fields::expect_object(json::array()); }).status(), 400);
}

TEST(GenerationOptionsTest, Defaults) {
  const GenerationOptions o = parse_generation_options(json::object(), Endpoint::kChat, kVocab);
  EXPECT_EQ(o.n, 1);
  EXPECT_FALSE(o.stream);
  EXPECT_EQ(o.logprobs, -1);
  EXPECT_FALSE(o.max_tokens.has_value());
  EXPECT_FLOAT_EQ(o.sampling.temperature, 1.0F);
  EXPECT_FALSE(o.sampling.seed.has_value());
}

TEST(GenerationOptionsTest, MapsEverySamplingField) {
  const json body = json::parse(R"({
      "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": 42, "n": 3,
      "max_tokens": 20, "min_tokens": 2, "stop": "END", "stop_token_ids": [2, 7],
      "ignore_eos": true, "presence_penalty": 0.5, "frequency_penalty": -0.5,
      "repetition_penalty": 1.1, "logit_bias": {"5": 10, "9": -100}, "logprobs": 3,
      "echo": true, "stream": true, "stream_options": {"include_usage": true},
      "user": "someone", "unknown_field": {"ignored": true}})");
  const GenerationOptions o = parse_generation_options(body, Endpoint::kCompletions, kVocab);
  const SamplingParams& s = o.sampling;
  EXPECT_FLOAT_EQ(s.temperature, 0.7F);
  EXPECT_FLOAT_EQ(s.top_p, 0.9F);
  EXPECT_EQ(s.top_k, 40);
  EXPECT_FLOAT_EQ(s.min_p, 0.05F);
  EXPECT_EQ(s.seed, 42U);
  EXPECT_EQ(o.n, 3);
  EXPECT_EQ(o.max_tokens, 20);
  EXPECT_EQ(s.min_tokens, 2);
  EXPECT_EQ(s.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(s.stop_token_ids, (std::vector<int32_t>{2, 7}));
  EXPECT_TRUE(s.ignore_eos);
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5F);
  EXPECT_FLOAT_EQ(s.frequency_penalty, -0.5F);
  EXPECT_FLOAT_EQ(s.repetition_penalty, 1.1F);
  ASSERT_EQ(s.logit_bias.size(), 2U);
  EXPECT_EQ(s.logit_bias[0], (std::pair<int32_t, float>{5, 10.0F}));
  EXPECT_EQ(s.logit_bias[1], (std::pair<int32_t, float>{9, -100.0F}));
  EXPECT_EQ(o.logprobs, 3);
  EXPECT_TRUE(o.echo);
  EXPECT_TRUE(o.stream);
  EXPECT_TRUE(o.include_usage);
}

TEST(GenerationOptionsTest, ChatLogprobsAndMaxCompletionTokens) {
  GenerationOptions o = parse_generation_options(
      json::parse(R"({"logprobs": true, "top_logprobs": 4, "max_completion_tokens": 9,
                     "max_tokens": 100, "response_format": {"type": "json_object"}})"),
      Endpoint::kChat, kVocab);
  EXPECT_EQ(o.logprobs, 4);
  EXPECT_EQ(o.max_tokens, 9);  // max_completion_tokens wins over the deprecated max_tokens
  EXPECT_TRUE(o.sampling.json_object);
  EXPECT_FALSE(parse_generation_options(json::parse(R"({"response_format": {"type": "text"}})"),
                                        Endpoint::kChat, kVocab)
                   .sampling.json_object);
  o = parse_generation_options(json::parse(R"({"logprobs": true})"), Endpoint::kChat, kVocab);
  EXPECT_FALSE(o.sampling.json_object);
  EXPECT_EQ(o.logprobs, 0);
  EXPECT_EQ(parse_error(json::parse(R"({"top_logprobs": 2})"), Endpoint::kChat).param(),
            "top_logprobs");
  EXPECT_EQ(parse_error(json::parse(R"({"logprobs": 2})"), Endpoint::kChat).param(), "logprobs");
}

TEST(GenerationOptionsTest, OutOfRangeValuesNameTheirField) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"temperature": -0.1})", "temperature"},
      {R"({"temperature": "hot"})", "temperature"},
      {R"({"top_p": 0})", "top_p"},
      {R"({"top_p": 1.5})", "top_p"},
      {R"({"top_k": -2})", "top_k"},
      {R"({"min_p": 2})", "min_p"},
      {R"({"presence_penalty": 3})", "presence_penalty"},
      {R"({"frequency_penalty": -2.5})", "frequency_penalty"},
      {R"({"repetition_penalty": 0})", "repetition_penalty"},
      {R"({"n": 0})", "n"},
      {R"({"n": 1000})", "n"},
      {R"({"max_tokens": -5})", "max_tokens"},
      {R"({"max_tokens": 0})", "max_tokens"},
      {R"({"max_tokens": "10"})", "max_tokens"},
      {R"({"min_tokens": -1})", "min_tokens"},
      {R"({"seed": 1.5})", "seed"},
      {R"({"stop": 5})", "stop"},
      {R"({"stop_token_ids": [512]})", "stop_token_ids"},
      {R"({"stop_token_ids": "2"})", "stop_token_ids"},
      {R"({"ignore_eos": "yes"})", "ignore_eos"},
      {R"({"logit_bias": {"x": 1}})", "logit_bias"},
      {R"({"logit_bias": {"600": 1}})", "logit_bias"},
      {R"({"logit_bias": {"5": 101}})", "logit_bias"},
      {R"({"logit_bias": [1]})", "logit_bias"},
      {R"({"logprobs": 21})", "logprobs"},
      {R"({"logprobs": true})", "logprobs"},
      {R"({"echo": 1})", "echo"},
      {R"({"stream": "true"})", "stream"},
      {R"({"stream_options": {"include_usage": true}})", "stream_options"},
      {R"({"user": 7})", "user"},
      {R"({"best_of": 3})", "best_of"},
      {R"({"suffix": "tail"})", "suffix"},
  };
  for (const auto& [body, field] : cases) {
    const ApiError e = parse_error(json::parse(body));
    EXPECT_EQ(e.status(), 400) << body;
    EXPECT_EQ(e.param(), field) << body << ": " << e.what();
    EXPECT_EQ(e.type(), "invalid_request_error");
  }
  EXPECT_EQ(
      parse_error(json::parse(R"({"response_format": {"type": "json_schema"}})"), Endpoint::kChat)
          .param(),
      "response_format");
  EXPECT_EQ(
      parse_error(json::parse(R"({"tools": [{"type": "function"}]})"), Endpoint::kChat).param(),
      "tools");
}

TEST(ResolveMaxTokensTest, DefaultsAndContextLimit) {
  GenerationOptions o;
  resolve_max_tokens(o, 10, 100, Endpoint::kCompletions);
  EXPECT_EQ(o.sampling.max_tokens, 16);
  resolve_max_tokens(o, 95, 100, Endpoint::kCompletions);
  EXPECT_EQ(o.sampling.max_tokens, 5);  // clipped to the context
  resolve_max_tokens(o, 10, 100, Endpoint::kChat);
  EXPECT_EQ(o.sampling.max_tokens, 90);  // chat: the rest of the context
  o.max_tokens = 90;
  resolve_max_tokens(o, 10, 100, Endpoint::kChat);
  EXPECT_EQ(o.sampling.max_tokens, 90);
}

TEST(ResolveMaxTokensTest, PromptPastTheContextGivesTheNumbers) {
  GenerationOptions o;
  o.max_tokens = 50;
  ApiError e = error_of([&] { resolve_max_tokens(o, 60, 100, Endpoint::kCompletions); });
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.code(), "context_length_exceeded");
  EXPECT_EQ(e.param(), "prompt");
  const std::string message = e.what();
  for (const char* number : {"100", "110", "60", "50"}) {
    EXPECT_NE(message.find(number), std::string::npos) << message;
  }
  o.max_tokens.reset();
  e = error_of([&] { resolve_max_tokens(o, 100, 100, Endpoint::kChat); });
  EXPECT_EQ(e.param(), "messages");
  EXPECT_NE(std::string(e.what()).find("100"), std::string::npos);
  o.sampling.min_tokens = 20;
  o.max_tokens = 10;
  EXPECT_EQ(error_of([&] { resolve_max_tokens(o, 5, 100, Endpoint::kChat); }).param(),
            "min_tokens");
}

}  // namespace
}  // namespace swiftkv::server
