// Load and lifecycle behaviour of the server over a fake engine: concurrent streams, a full
// queue (429), clients that hang up (mid-stream and while queued), per-request timeouts, and
// graceful shutdown (drain, and drain past its timeout). Loopback only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "server/fake_server.h"
#include "server/http_test_util.h"

namespace swiftkv::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kModel = "{model_name=\"fake-model\"}";

// Sends a raw HTTP request and closes the socket without reading the answer.
void post_and_hang_up(int port, const std::string& path, const json& body) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string payload = body.dump();
  const std::string request =
      "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/json\r\nContent-Length: " + std::to_string(payload.size()) +
      "\r\n\r\n" + payload;
  ASSERT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(100ms);  // let the server take it
  close(fd);
}

TEST(ServerLifecycleTest, ConcurrentStreamsEachGetTheirOwnOutput) {
  FakeServer fake(fake_options(8, 64, 2ms));
  std::vector<std::future<StreamReply>> replies;
  for (int i = 0; i < 24; ++i) {
    replies.push_back(std::async(std::launch::async, [&, i] {
      return http_stream(fake.port(), "/v1/completions",
                         json{{"prompt", "story " + std::to_string(i)},
                              {"max_tokens", 5 + i},
                              {"stream", true},
                              {"stream_options", {{"include_usage", true}}}});
    }));
  }
  for (int i = 0; i < 24; ++i) {
    const StreamReply reply = replies[i].get();
    ASSERT_EQ(reply.status, 200);
    EXPECT_TRUE(reply.done);
    EXPECT_EQ(reply.text[0], fake.engine().expected_text(5 + i)) << i;
    EXPECT_EQ(reply.usage["completion_tokens"], 5 + i);
  }
}

TEST(ServerLifecycleTest, FullQueueAnswers429) {
  FakeServer fake(fake_options(1, 2, 2ms));
  fake.engine().pause();  // nothing moves: both requests stay waiting
  auto first = std::async(std::launch::async, [&] {
    return http_post(fake.port(), "/v1/completions", json{{"prompt", "a"}, {"max_tokens", 3}});
  });
  auto second = std::async(std::launch::async, [&] {
    return http_post(fake.port(), "/v1/completions", json{{"prompt", "b"}, {"max_tokens", 3}});
  });
  ASSERT_TRUE(eventually([&] { return fake.engine().stats().num_waiting == 2; }));
  const HttpReply full =
      http_post(fake.port(), "/v1/completions", json{{"prompt", "c"}, {"max_tokens", 3}});
  EXPECT_EQ(full.status, 429) << full.body;
  EXPECT_EQ(full.json["error"]["code"], "queue_full");
  EXPECT_TRUE(full.headers.count("Retry-After"));
  // Streaming requests are refused before any byte of the stream is sent.
  const StreamReply stream = http_stream(
      fake.port(), "/v1/completions", json{{"prompt", "d"}, {"max_tokens", 3}, {"stream", true}});
  EXPECT_EQ(stream.status, 429);
  fake.engine().resume();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
}

TEST(ServerLifecycleTest, ClientThatHangsUpMidStreamIsAborted) {
  FakeServer fake(fake_options(4, 16, 5ms));
  int events = 0;
  const StreamReply reply = http_stream(
      fake.port(), "/v1/completions", json{{"prompt", "a"}, {"max_tokens", 200}, {"stream", true}},
      [&](const json&) { return ++events < 3; });
  EXPECT_EQ(events, 3);
  EXPECT_FALSE(reply.done);
  ASSERT_TRUE(eventually([&] { return fake.engine().aborted().size() == 1; }));
  EXPECT_TRUE(eventually([&] {
    return metric_value(fake.port(), "swiftkv:num_requests_running" + kModel) == 0 &&
           metric_value(fake.port(), "swiftkv:kv_cache_usage_perc" + kModel) == 0;
  }));
  EXPECT_EQ(metric_value(fake.port(),
                         "swiftkv:request_success_total{model_name=\"fake-model\","
                         "finished_reason=\"abort\"}"),
            1);
}

TEST(ServerLifecycleTest, ClientThatHangsUpWhileQueuedIsAborted) {
  FakeServer fake;
  fake.engine().pause();  // the requests wait in the queue and produce nothing
  post_and_hang_up(fake.port(), "/v1/completions", json{{"prompt", "a"}, {"max_tokens", 3}});
  post_and_hang_up(fake.port(), "/v1/completions",
                   json{{"prompt", "b"}, {"max_tokens", 3}, {"stream", true}});
  EXPECT_TRUE(eventually([&] { return fake.engine().aborted().size() == 2; }, 3000))
      << fake.engine().aborted().size();
  EXPECT_EQ(fake.engine().stats().num_waiting, 0);
}

TEST(ServerLifecycleTest, RequestTimeout) {
  FakeServer fake(fake_options(4, 16, 20ms),
                  [](server::ServerOptions& o) { o.request_timeout = 150ms; });
  const HttpReply slow =
      http_post(fake.port(), "/v1/completions", json{{"prompt", "a"}, {"max_tokens", 200}});
  EXPECT_EQ(slow.status, 408) << slow.body;
  EXPECT_EQ(slow.json["error"]["code"], "request_timeout");
  ASSERT_FALSE(fake.engine().received().empty());
  EXPECT_TRUE(fake.engine().received().back().deadline.has_value());
  const StreamReply stream = http_stream(
      fake.port(), "/v1/completions", json{{"prompt", "a"}, {"max_tokens", 200}, {"stream", true}});
  EXPECT_TRUE(stream.done);
  ASSERT_FALSE(stream.error.is_null()) << stream.raw.substr(0, 300);
  EXPECT_EQ(stream.error["code"], "request_timeout");
  // A quick request is unaffected.
  EXPECT_EQ(
      http_post(fake.port(), "/v1/completions", json{{"prompt", "a"}, {"max_tokens", 2}}).status,
      200);
}

TEST(ServerLifecycleTest, ShutdownDrainsInFlightRequests) {
  FakeServer fake(fake_options(4, 16, 5ms));
  std::promise<void> started;
  auto stream = std::async(std::launch::async, [&] {
    bool first = true;
    return http_stream(fake.port(), "/v1/completions",
                       json{{"prompt", "a"}, {"max_tokens", 80}, {"stream", true}},
                       [&](const json&) {
                         if (first) {
                           first = false;
                           started.set_value();
                         }
                         return true;
                       });
  });
  auto plain = std::async(std::launch::async, [&] {
    return http_post(fake.port(), "/v1/completions", json{{"prompt", "b"}, {"max_tokens", 80}});
  });
  ASSERT_EQ(started.get_future().wait_for(10s), std::future_status::ready);
  // Both requests must be in flight before the drain starts (on a loaded machine the plain one
  // can still be on its way, and would then rightly be refused).
  ASSERT_TRUE(eventually([&] { return fake.engine().received().size() == 2; }));
  auto shutdown = std::async(std::launch::async, [&] { fake.server().shutdown(10s); });
  ASSERT_TRUE(
      eventually([&] { return fake.server().context().state() != server::ServerState::kReady; }));
  // Draining: new work and /health get 503.
  const HttpReply refused =
      http_post(fake.port(), "/v1/completions", json{{"prompt", "c"}, {"max_tokens", 2}});
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(http_get(fake.port(), "/health").status, 503);
  // In-flight requests finish normally.
  const StreamReply drained = stream.get();
  EXPECT_TRUE(drained.done);
  EXPECT_EQ(drained.text[0], fake.engine().expected_text(80));
  EXPECT_EQ(drained.finish_reason[0], "length");
  const HttpReply plain_reply = plain.get();
  EXPECT_EQ(plain_reply.status, 200) << plain_reply.body;
  shutdown.get();
  EXPECT_TRUE(fake.engine().aborted().empty());
  EXPECT_EQ(http_get(fake.port(), "/health").status, 0);  // no longer listening
}

TEST(ServerLifecycleTest, ShutdownTimeoutEndsStreamsWithAnError) {
  FakeServer fake(fake_options(4, 16, 20ms));
  std::promise<void> started;
  auto stream = std::async(std::launch::async, [&] {
    bool first = true;
    return http_stream(fake.port(), "/v1/completions",
                       json{{"prompt", "a"}, {"max_tokens", 200}, {"stream", true}},
                       [&](const json&) {
                         if (first) {
                           first = false;
                           started.set_value();
                         }
                         return true;
                       });
  });
  ASSERT_EQ(started.get_future().wait_for(10s), std::future_status::ready);
  const auto start = std::chrono::steady_clock::now();
  fake.server().shutdown(100ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  const StreamReply reply = stream.get();
  EXPECT_TRUE(reply.done);
  ASSERT_FALSE(reply.error.is_null()) << reply.raw.substr(0, 300);
  EXPECT_EQ(reply.error["code"], "server_draining");
  EXPECT_EQ(fake.engine().aborted().size(), 1U);
}

}  // namespace
}  // namespace swiftkv::testing
