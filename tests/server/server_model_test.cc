// The server end to end on the real engine and stories260K (DESIGN.md §7 `model` tier):
// concurrent greedy streams equal solo runs, a client that hangs up frees its KV blocks, a
// full queue answers 429, bad requests get OpenAI errors while the server keeps serving,
// shutdown drains in-flight requests, prefix caching reports cached tokens without changing
// the output. Loopback only.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "server/http_test_util.h"
#include "server/model_server.h"

namespace swiftkv::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kModel = "{model_name=\"stories260K\"}";

json greedy(const std::string& prompt, int max_tokens) {
  return {
      {"model", "stories260K"}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

json streamed(json body) {
  body["stream"] = true;
  body["stream_options"] = {{"include_usage", true}};
  return body;
}

TEST(ServerModelTest, ConcurrentGreedyStreamsMatchSoloRuns) {
  ModelServer s;
  const std::vector<std::string> names = {"Lily", "Tom", "Ben", "Sue", "Max", "Amy", "Sam", "Tim"};
  const std::vector<std::string> starts = {"Once upon a time, ", "One day, ", "The sun was hot. ",
                                           "There was a big dog. "};
  std::vector<json> bodies;
  for (const std::string& start : starts) {
    for (const std::string& name : names) {
      std::string prompt = start;
      prompt.append(name).append(" went to");
      const int max_tokens = 24 + static_cast<int>(bodies.size() % 5) * 8;
      bodies.push_back(streamed(greedy(prompt, max_tokens)));
    }
  }
  ASSERT_EQ(bodies.size(), 32U);
  std::vector<StreamReply> solo;
  for (const json& body : bodies) {
    solo.push_back(http_stream(s.port(), "/v1/completions", body));
    ASSERT_TRUE(solo.back().done) << solo.back().raw.substr(0, 300);
  }
  std::vector<std::future<StreamReply>> together;
  for (const json& body : bodies) {
    together.push_back(std::async(
        std::launch::async, [&, body] { return http_stream(s.port(), "/v1/completions", body); }));
  }
  for (size_t i = 0; i < bodies.size(); ++i) {
    const StreamReply reply = together[i].get();
    ASSERT_TRUE(reply.done) << i;
    EXPECT_EQ(reply.text[0], solo[i].text[0]) << "prompt " << i;
    EXPECT_EQ(reply.usage["completion_tokens"], solo[i].usage["completion_tokens"]) << i;
    EXPECT_FALSE(reply.text[0].empty());
  }
  EXPECT_TRUE(eventually(
      [&] { return metric_value(s.port(), "swiftkv:num_requests_running" + kModel) == 0; }));
}

TEST(ServerModelTest, ClientThatHangsUpFreesItsBlocks) {
  ModelServer s;
  json body = streamed(greedy("Once upon a time", 480));
  body["ignore_eos"] = true;
  int events = 0;
  const StreamReply reply =
      http_stream(s.port(), "/v1/completions", body, [&](const json&) { return ++events < 3; });
  EXPECT_FALSE(reply.done);
  EXPECT_TRUE(eventually([&] {
    return metric_value(s.port(), "swiftkv:num_requests_running" + kModel) == 0 &&
           metric_value(s.port(), "swiftkv:kv_cache_usage_perc" + kModel) == 0;
  }));
  EXPECT_EQ(s.engine().stats().num_blocks_used, 0);
  EXPECT_EQ(metric_value(s.port(),
                         "swiftkv:request_success_total{model_name=\"stories260K\","
                         "finished_reason=\"abort\"}"),
            1);
  EXPECT_LT(metric_value(s.port(), "swiftkv:generation_tokens_total" + kModel), 480);
}

TEST(ServerModelTest, FullQueueAnswers429) {
  EngineConfig config = test_engine_config();
  config.max_num_seqs = 1;
  config.max_queued_requests = 1;
  ModelServer s(config);
  json body = greedy("Once upon a time", 400);
  body["ignore_eos"] = true;
  std::vector<std::future<HttpReply>> replies;
  for (int i = 0; i < 6; ++i) {
    replies.push_back(std::async(std::launch::async,
                                 [&] { return http_post(s.port(), "/v1/completions", body); }));
  }
  int ok = 0;
  int full = 0;
  for (auto& future : replies) {
    const HttpReply reply = future.get();
    if (reply.status == 200) {
      ++ok;
      EXPECT_EQ(reply.json["usage"]["completion_tokens"], 400);
    } else {
      EXPECT_EQ(reply.status, 429) << reply.body;
      EXPECT_EQ(reply.json["error"]["code"], "queue_full");
      ++full;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(full, 1);
  EXPECT_EQ(http_post(s.port(), "/v1/completions", greedy("Hi", 4)).status, 200);
}

TEST(ServerModelTest, BadRequestsGetErrorsAndTheServerKeepsServing) {
  ModelServer s(test_engine_config(), [](server::ServerOptions& o) { o.api_key = "test-key"; });
  const httplib::Headers auth = {{"Authorization", "Bearer test-key"}};
  const int port = s.port();
  auto check = [](const HttpReply& reply, int status, const char* param) {
    EXPECT_EQ(reply.status, status) << reply.body;
    ASSERT_TRUE(reply.json.contains("error")) << reply.body;
    EXPECT_TRUE(reply.json["error"]["message"].is_string());
    if (param != nullptr) {
      EXPECT_EQ(reply.json["error"]["param"], param) << reply.body;
    }
  };
  check(http_post(port, "/v1/completions", std::string("{oops"), auth), 400, nullptr);
  check(http_post(port, "/v1/completions", json{{"prompt", 5}}, auth), 400, "prompt");
  check(http_post(port, "/v1/completions", json{{"prompt", "x"}, {"top_k", "5"}}, auth), 400,
        "top_k");
  check(http_post(port, "/v1/completions", json{{"prompt", "x"}, {"max_tokens", -3}}, auth), 400,
        "max_tokens");
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) {
    long_prompt += " the dog";
  }
  const HttpReply too_long =
      http_post(port, "/v1/completions", json{{"prompt", long_prompt}}, auth);
  check(too_long, 400, "prompt");
  EXPECT_NE(too_long.json["error"]["message"].get<std::string>().find("512"), std::string::npos);
  check(http_post(port, "/v1/completions", greedy("x", 2)), 401, nullptr);
  check(http_post(port, "/v1/completions", greedy("x", 2), {{"Authorization", "Bearer no"}}), 401,
        nullptr);
  check(http_post(port, "/v1/chat/completions",
                  json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}}, auth),
        400, "messages");  // stories260K has no chat template
  const HttpReply ok = http_post(port, "/v1/completions", greedy("Once upon a time", 8), auth);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json["usage"]["completion_tokens"], 8);
  EXPECT_EQ(http_get(port, "/health").status, 200);
}

TEST(ServerModelTest, ShutdownDrainsInFlightRequests) {
  ModelServer s;
  std::vector<std::promise<void>> started(4);
  std::vector<std::future<StreamReply>> streams;
  for (int i = 0; i < 4; ++i) {
    std::string prompt = "Once upon a time ";
    prompt.append(std::to_string(i));
    json body = streamed(greedy(prompt, 300));
    body["ignore_eos"] = true;
    streams.push_back(std::async(std::launch::async, [&, i, body] {
      bool first = true;
      return http_stream(s.port(), "/v1/completions", body, [&](const json&) {
        if (first) {
          first = false;
          started[i].set_value();
        }
        return true;
      });
    }));
  }
  for (auto& promise : started) {
    ASSERT_EQ(promise.get_future().wait_for(20s), std::future_status::ready);
  }
  auto shutdown = std::async(std::launch::async, [&] { s.server().shutdown(20s); });
  ASSERT_TRUE(
      eventually([&] { return s.server().context().state() != server::ServerState::kReady; }));
  const HttpReply refused = http_post(s.port(), "/v1/completions", greedy("Hi", 2));
  if (refused.status != 0) {  // 0: the drain already finished and the listener is gone
    EXPECT_EQ(refused.status, 503) << refused.body;
  }
  for (auto& stream : streams) {
    const StreamReply reply = stream.get();
    EXPECT_TRUE(reply.done);
    EXPECT_TRUE(reply.error.is_null()) << reply.error;
    EXPECT_EQ(reply.finish_reason[0], "length");
    EXPECT_EQ(reply.usage["completion_tokens"], 300);
  }
  shutdown.get();
}

TEST(ServerModelTest, PrefixCachingReportsCachedTokensWithTheSameOutput) {
  std::string prompt = "Once upon a time, there was a little girl named Lily.";
  for (int i = 0; i < 12; ++i) {
    prompt += " She liked to play in the park with her dog and her ball.";
  }
  const json body = greedy(prompt, 32);
  std::string uncached_text;
  {
    EngineConfig config = test_engine_config();
    config.enable_prefix_caching = false;
    ModelServer off(config);
    const HttpReply reply = http_post(off.port(), "/v1/completions", body);
    ASSERT_EQ(reply.status, 200) << reply.body;
    uncached_text = reply.json["choices"][0]["text"];
    EXPECT_EQ(reply.json["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  }
  ModelServer on;
  const HttpReply first = http_post(on.port(), "/v1/completions", body);
  const HttpReply second = http_post(on.port(), "/v1/completions", body);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(second.status, 200);
  const int64_t prompt_tokens = second.json["usage"]["prompt_tokens"];
  const int64_t cached = second.json["usage"]["prompt_tokens_details"]["cached_tokens"];
  EXPECT_GT(prompt_tokens, 200);
  EXPECT_EQ(first.json["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_GE(cached, (prompt_tokens - 1) / 16 * 16 - 16);  // every full block but maybe the last
  EXPECT_LT(cached, prompt_tokens);
  EXPECT_EQ(first.json["choices"][0]["text"], uncached_text);
  EXPECT_EQ(second.json["choices"][0]["text"], uncached_text);
  EXPECT_GT(metric_value(on.port(), "swiftkv:prefix_cache_hits_total" + kModel), 0);
}

}  // namespace
}  // namespace swiftkv::testing
