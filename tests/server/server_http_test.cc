// The OpenAI routes over a fake engine: response shapes, streaming wire format, parameter
// mapping to engine requests, and the error statuses (DESIGN.md §5). Loopback only.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "server/fake_server.h"
#include "server/http_test_util.h"

namespace swiftkv::testing {
namespace {

using nlohmann::json;

void expect_openai_error(const HttpReply& reply, int status, const std::string& param = {}) {
  EXPECT_EQ(reply.status, status) << reply.body;
  ASSERT_TRUE(reply.json.is_object()) << reply.body;
  const json& error = reply.json["error"];
  ASSERT_TRUE(error.is_object()) << reply.body;
  EXPECT_TRUE(error["message"].is_string());
  EXPECT_TRUE(error["type"].is_string());
  EXPECT_TRUE(error.contains("param") && error.contains("code")) << reply.body;
  if (!param.empty()) {
    EXPECT_EQ(error["param"], param) << reply.body;
  }
}

TEST(ServerHttpTest, ModelsTokenizeDetokenizeHealth) {
  FakeServer fake;
  const HttpReply models = http_get(fake.port(), "/v1/models");
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.json["object"], "list");
  EXPECT_EQ(models.json["data"][0]["id"], "fake-model");
  EXPECT_EQ(models.json["data"][0]["root"], "/models/fake");
  EXPECT_EQ(models.json["data"][0]["max_model_len"], 256);

  const Tokenizer& tokenizer = stories_tokenizer();
  const HttpReply tokens = http_post(fake.port(), "/tokenize", json{{"prompt", "Hello world"}});
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  EXPECT_EQ(tokens.json["tokens"].get<std::vector<int32_t>>(),
            tokenizer.encode("Hello world", true));
  EXPECT_EQ(tokens.json["count"], tokens.json["tokens"].size());
  EXPECT_EQ(tokens.json["max_model_len"], 256);
  const HttpReply no_bos = http_post(
      fake.port(), "/tokenize", json{{"prompt", "Hello world"}, {"add_special_tokens", false}});
  EXPECT_EQ(no_bos.json["count"].get<size_t>() + 1, tokens.json["count"].get<size_t>());

  const HttpReply chat_tokens = http_post(
      fake.port(), "/tokenize",
      json{{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"return_token_strs", true}});
  ASSERT_EQ(chat_tokens.status, 200) << chat_tokens.body;
  EXPECT_EQ(chat_tokens.json["tokens"].get<std::vector<int32_t>>(),
            tokenizer.encode("user: Hi\nassistant:", false));
  EXPECT_EQ(chat_tokens.json["token_strs"].size(), chat_tokens.json["count"].get<size_t>());

  const HttpReply text =
      http_post(fake.port(), "/detokenize", json{{"tokens", no_bos.json["tokens"]}});
  ASSERT_EQ(text.status, 200) << text.body;
  EXPECT_EQ(text.json["prompt"], "Hello world");
  expect_openai_error(http_post(fake.port(), "/detokenize", json{{"tokens", {1, 99999}}}), 400,
                      "tokens");

  const HttpReply health = http_get(fake.port(), "/health");
  EXPECT_EQ(health.status, 200);
}

TEST(ServerHttpTest, HealthIs503WhileLoadingAndWhenTheEngineDies) {
  FakeServer fake({}, {}, 256, /*attach=*/false);
  expect_openai_error(http_get(fake.port(), "/health"), 503);
  expect_openai_error(http_post(fake.port(), "/v1/completions", json{{"prompt", "x"}}), 503);
  EXPECT_EQ(http_get(fake.port(), "/metrics").status, 200);
  fake.attach();
  EXPECT_EQ(http_get(fake.port(), "/health").status, 200);
  fake.engine().set_dead(true);
  const HttpReply dead = http_get(fake.port(), "/health");
  expect_openai_error(dead, 503);
  EXPECT_EQ(dead.json["error"]["code"], "engine_dead");
  expect_openai_error(http_post(fake.port(), "/v1/completions", json{{"prompt", "x"}}), 503);
}

TEST(ServerHttpTest, CompletionNonStreaming) {
  FakeServer fake;
  const HttpReply reply =
      http_post(fake.port(), "/v1/completions",
                json{{"model", "fake-model"}, {"prompt", "Once upon a time"}, {"max_tokens", 7}});
  ASSERT_EQ(reply.status, 200) << reply.body;
  const json& r = reply.json;
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["model"], "fake-model");
  EXPECT_EQ(r["id"].get<std::string>().rfind("cmpl-", 0), 0U);
  EXPECT_EQ(r["choices"][0]["text"], fake.engine().expected_text(7));
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(r["choices"][0]["logprobs"].is_null());
  const auto prompt_len = stories_tokenizer().encode("Once upon a time", true).size();
  EXPECT_EQ(r["usage"]["prompt_tokens"], prompt_len);
  EXPECT_EQ(r["usage"]["completion_tokens"], 7);
  EXPECT_EQ(r["usage"]["total_tokens"], prompt_len + 7);
  EXPECT_EQ(r["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  // Default max_tokens for completions is 16; a token-id prompt is used as it is.
  const HttpReply ids = http_post(fake.port(), "/v1/completions", json{{"prompt", {1, 300, 301}}});
  ASSERT_EQ(ids.status, 200) << ids.body;
  EXPECT_EQ(ids.json["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(ids.json["usage"]["completion_tokens"], 16);
  EXPECT_EQ(fake.engine().received().back().prompt_ids, (std::vector<int32_t>{1, 300, 301}));
}

TEST(ServerHttpTest, CompletionStreamWireFormat) {
  FakeServer fake;
  const StreamReply reply = http_stream(fake.port(), "/v1/completions",
                                        json{{"prompt", "Once"},
                                             {"max_tokens", 12},
                                             {"stream", true},
                                             {"stream_options", {{"include_usage", true}}}});
  ASSERT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.done);
  ASSERT_GE(reply.events.size(), 3U);
  // Every event before the usage chunk carries a choice; the first already has text.
  for (size_t i = 0; i + 1 < reply.events.size(); ++i) {
    const json& event = reply.events[i];
    EXPECT_EQ(event["object"], "text_completion");
    ASSERT_EQ(event["choices"].size(), 1U) << event;
    if (i + 2 < reply.events.size()) {
      EXPECT_TRUE(event["choices"][0]["finish_reason"].is_null());
    }
  }
  EXPECT_FALSE(reply.events[0]["choices"][0]["text"].get<std::string>().empty());
  const json& usage_chunk = reply.events.back();
  EXPECT_TRUE(usage_chunk["choices"].empty());
  EXPECT_EQ(reply.usage["completion_tokens"], 12);
  EXPECT_EQ(reply.text[0], fake.engine().expected_text(12));
  EXPECT_EQ(reply.finish_reason[0], "length");
  // Frames are exactly "data: {json}\n\n" and the stream ends with [DONE].
  EXPECT_EQ(reply.raw.rfind("data: {", 0), 0U);
  EXPECT_EQ(reply.raw.substr(reply.raw.size() - 14), "data: [DONE]\n\n");
  // Without include_usage there is no usage chunk.
  const StreamReply plain =
      http_stream(fake.port(), "/v1/completions",
                  json{{"prompt", "Once"}, {"max_tokens", 3}, {"stream", true}});
  EXPECT_TRUE(plain.usage.is_null());
  EXPECT_TRUE(plain.done);
}

TEST(ServerHttpTest, ChatFirstChunkCarriesRoleAndContent) {
  FakeServer fake;
  const json body = {{"messages",
                      {{{"role", "system"}, {"content", "Be brief."}},
                       {{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Hi"}}}}}}},
                     {"max_completion_tokens", 9}};
  const HttpReply reply = http_post(fake.port(), "/v1/chat/completions", body);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.json["object"], "chat.completion");
  EXPECT_EQ(reply.json["id"].get<std::string>().rfind("chatcmpl-", 0), 0U);
  EXPECT_EQ(reply.json["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(reply.json["choices"][0]["message"]["content"], fake.engine().expected_text(9));
  EXPECT_EQ(fake.engine().received().back().prompt_ids,
            stories_tokenizer().encode("system: Be brief.\nuser: Hi\nassistant:", false));

  json stream_body = body;
  stream_body["stream"] = true;
  const StreamReply stream = http_stream(fake.port(), "/v1/chat/completions", stream_body);
  ASSERT_GE(stream.events.size(), 2U);
  const json& first = stream.events[0]["choices"][0]["delta"];
  EXPECT_EQ(first["role"], "assistant");
  EXPECT_FALSE(first["content"].get<std::string>().empty());
  for (size_t i = 1; i < stream.events.size(); ++i) {
    EXPECT_EQ(stream.events[i]["object"], "chat.completion.chunk");
    EXPECT_FALSE(stream.events[i]["choices"][0]["delta"].contains("role"));
  }
  EXPECT_EQ(stream.text[0], fake.engine().expected_text(9));
  EXPECT_EQ(stream.finish_reason[0], "length");
  // Chat's default max_tokens is the rest of the context.
  const HttpReply rest = http_post(fake.port(), "/v1/chat/completions",
                                   json{{"messages", {{{"role", "user"}, {"content", "x"}}}}});
  ASSERT_EQ(rest.status, 200);
  EXPECT_EQ(rest.json["usage"]["prompt_tokens"].get<int>() +
                rest.json["usage"]["completion_tokens"].get<int>(),
            256);
}

TEST(ServerHttpTest, ParametersReachTheEngine) {
  FakeServer fake;
  const HttpReply reply = http_post(fake.port(), "/v1/completions", json::parse(R"({
      "prompt": "Hi", "max_tokens": 5, "n": 3, "seed": 7, "temperature": 0.5, "top_p": 0.8,
      "top_k": 20, "min_p": 0.1, "stop": ["x", "yz"], "stop_token_ids": [2],
      "ignore_eos": true, "min_tokens": 1, "presence_penalty": 0.2,
      "frequency_penalty": 0.3, "repetition_penalty": 1.2, "logit_bias": {"13": 5},
      "user": "u1"})"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(reply.json["choices"].size(), 3U);
  EXPECT_EQ(reply.json["usage"]["completion_tokens"], 15);
  const std::vector<Request> received = fake.engine().received();
  ASSERT_EQ(received.size(), 3U);
  const std::string id = reply.json["id"];
  for (size_t i = 0; i < 3; ++i) {
    const Request& r = received[i];
    EXPECT_EQ(r.id, id + "-" + std::to_string(i));
    EXPECT_EQ(r.sampling.seed, 7U + i);
    EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5F);
    EXPECT_FLOAT_EQ(r.sampling.top_p, 0.8F);
    EXPECT_EQ(r.sampling.top_k, 20);
    EXPECT_FLOAT_EQ(r.sampling.min_p, 0.1F);
    EXPECT_EQ(r.sampling.stop, (std::vector<std::string>{"x", "yz"}));
    EXPECT_EQ(r.sampling.stop_token_ids, std::vector<int32_t>{2});
    EXPECT_TRUE(r.sampling.ignore_eos);
    EXPECT_EQ(r.sampling.min_tokens, 1);
    EXPECT_EQ(r.sampling.max_tokens, 5);
    EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.2F);
    EXPECT_EQ(r.sampling.logit_bias.size(), 1U);
    EXPECT_EQ(r.logprobs, -1);
    EXPECT_FALSE(r.deadline.has_value());
  }
}

TEST(ServerHttpTest, LogprobsAndEcho) {
  FakeServer fake;
  const HttpReply completion =
      http_post(fake.port(), "/v1/completions",
                json{{"prompt", "Hello"}, {"max_tokens", 3}, {"logprobs", 2}, {"echo", true}});
  ASSERT_EQ(completion.status, 200) << completion.body;
  const json& choice = completion.json["choices"][0];
  EXPECT_EQ(choice["text"], "Hello" + fake.engine().expected_text(3));
  const json& lp = choice["logprobs"];
  const size_t prompt_len = stories_tokenizer().encode("Hello", true).size();
  ASSERT_EQ(lp["tokens"].size(), prompt_len + 3);
  EXPECT_TRUE(lp["token_logprobs"][0].is_null());  // echoed prompt tokens have none
  EXPECT_DOUBLE_EQ(lp["token_logprobs"][prompt_len].get<double>(), -0.5);
  // The sampled token and the top 2, keyed by token text (the fake's sampled token is also its
  // most likely one, so the object has 2 keys).
  EXPECT_EQ(lp["top_logprobs"][prompt_len].size(), 2U);
  EXPECT_EQ(lp["text_offset"].size(), prompt_len + 3);

  const HttpReply chat = http_post(fake.port(), "/v1/chat/completions",
                                   json{{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                                        {"max_tokens", 2},
                                        {"logprobs", true},
                                        {"top_logprobs", 2}});
  ASSERT_EQ(chat.status, 200) << chat.body;
  const json& content = chat.json["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), 2U);
  EXPECT_TRUE(content[0]["token"].is_string());
  EXPECT_DOUBLE_EQ(content[0]["logprob"].get<double>(), -0.5);
  EXPECT_TRUE(content[0]["bytes"].is_array());
  EXPECT_EQ(content[0]["top_logprobs"].size(), 2U);
  EXPECT_EQ(fake.engine().received().back().logprobs, 2);

  const StreamReply stream =
      http_stream(fake.port(), "/v1/completions",
                  json{{"prompt", "Hello"}, {"max_tokens", 2}, {"echo", true}, {"stream", true}});
  EXPECT_EQ(stream.text[0], "Hello" + fake.engine().expected_text(2));
}

TEST(ServerHttpTest, BadRequestsGetOpenAiErrorsAndTheServerKeepsServing) {
  FakeServer fake({}, {}, /*max_model_len=*/64);
  const int port = fake.port();
  expect_openai_error(http_post(port, "/v1/completions", std::string("{\"prompt\": ")), 400);
  expect_openai_error(http_post(port, "/v1/completions", std::string("[1, 2]")), 400);
  expect_openai_error(http_post(port, "/v1/completions", json{{"max_tokens", 5}}), 400, "prompt");
  expect_openai_error(
      http_post(port, "/v1/completions", json{{"prompt", "x"}, {"temperature", "hot"}}), 400,
      "temperature");
  expect_openai_error(http_post(port, "/v1/completions", json{{"prompt", "x"}, {"n", "2"}}), 400,
                      "n");
  expect_openai_error(http_post(port, "/v1/completions", json{{"prompt", "x"}, {"max_tokens", -1}}),
                      400, "max_tokens");
  expect_openai_error(http_post(port, "/v1/completions", json{{"prompt", {1, 2, 4096}}}), 400,
                      "prompt");
  expect_openai_error(http_post(port, "/v1/completions", json{{"prompt", {"a", "b"}}}), 400,
                      "prompt");
  expect_openai_error(http_post(port, "/v1/chat/completions", json{{"messages", "hi"}}), 400,
                      "messages");
  expect_openai_error(http_post(port, "/v1/chat/completions",
                                json{{"messages", {{{"role", "user"}, {"content", 5}}}}}),
                      400, "messages");
  // A prompt past the context: the message gives the numbers.
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) {
    long_prompt += " the cat";
  }
  const HttpReply too_long =
      http_post(port, "/v1/completions", json{{"prompt", long_prompt}, {"max_tokens", 4}});
  expect_openai_error(too_long, 400, "prompt");
  EXPECT_EQ(too_long.json["error"]["code"], "context_length_exceeded");
  EXPECT_NE(too_long.json["error"]["message"].get<std::string>().find("64"), std::string::npos);
  const HttpReply over_budget =
      http_post(port, "/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 100}});
  expect_openai_error(over_budget, 400, "prompt");
  // Unknown model and route: 404.
  const HttpReply model =
      http_post(port, "/v1/completions", json{{"model", "gpt-4"}, {"prompt", "x"}});
  expect_openai_error(model, 404, "model");
  EXPECT_EQ(model.json["error"]["code"], "model_not_found");
  expect_openai_error(http_get(port, "/v1/nothing"), 404);
  expect_openai_error(http_post(port, "/v1/embeddings", json{{"input", "x"}}), 404);
  // Still serving.
  const HttpReply ok = http_post(port, "/v1/completions", json{{"prompt", "x"}, {"max_tokens", 2}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(fake.engine().aborted().empty());
}

TEST(ServerHttpTest, ApiKey) {
  FakeServer fake({}, [](server::ServerOptions& o) { o.api_key = "sekret"; });
  const int port = fake.port();
  const json body = {{"prompt", "x"}, {"max_tokens", 2}};
  const HttpReply missing = http_post(port, "/v1/completions", body);
  expect_openai_error(missing, 401);
  EXPECT_EQ(missing.json["error"]["code"], "invalid_api_key");
  expect_openai_error(http_post(port, "/v1/completions", body, {{"Authorization", "Bearer wrong"}}),
                      401);
  expect_openai_error(http_get(port, "/v1/models", {{"Authorization", "sekret"}}), 401);
  EXPECT_EQ(http_post(port, "/v1/completions", body, {{"Authorization", "Bearer sekret"}}).status,
            200);
  EXPECT_EQ(http_get(port, "/v1/models", {{"Authorization", "Bearer sekret"}}).status, 200);
  // /health and /metrics stay open.
  EXPECT_EQ(http_get(port, "/health").status, 200);
  EXPECT_EQ(http_get(port, "/metrics").status, 200);
}

TEST(ServerHttpTest, MetricsCountRequests) {
  FakeServer fake;
  const int port = fake.port();
  const std::string reason = "{model_name=\"fake-model\",finished_reason=\"length\"}";
  EXPECT_EQ(metric_value(port, "swiftkv:request_success_total" + reason), 0);
  ASSERT_EQ(http_post(port, "/v1/completions", json{{"prompt", "x"}, {"max_tokens", 4}}).status,
            200);
  EXPECT_EQ(metric_value(port, "swiftkv:request_success_total" + reason), 1);
  const std::string model = "{model_name=\"fake-model\"}";
  EXPECT_EQ(metric_value(port, "swiftkv:generation_tokens_total" + model), 4);
  EXPECT_EQ(metric_value(port, "swiftkv:time_to_first_token_seconds_count" + model), 1);
  EXPECT_EQ(metric_value(port, "swiftkv:inter_token_latency_seconds_count" + model), 3);
  EXPECT_EQ(metric_value(port, "swiftkv:e2e_request_latency_seconds_count" + model), 1);
  EXPECT_EQ(metric_value(port, "swiftkv:num_requests_running" + model), 0);
  EXPECT_EQ(metric_value(port, "swiftkv:kv_cache_usage_perc" + model), 0);
  EXPECT_GE(metric_value(port, "swiftkv:prefix_cache_queries_total" + model), 0);
  EXPECT_GE(metric_value(port, "swiftkv:num_requests_waiting" + model), 0);
  const HttpReply text = http_get(port, "/metrics");
  EXPECT_NE(text.headers.find("Content-Type")->second.find("text/plain"), std::string::npos);
}

}  // namespace
}  // namespace swiftkv::testing
