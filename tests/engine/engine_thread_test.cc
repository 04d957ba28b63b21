// The threaded Engine (engine.h) on stories260K: concurrent clients, streamed deltas, abort,
// deadlines, queue limit, shutdown (drain and timeout), failing callbacks, validation.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/offline_engine.h"
#include "model/test_models.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv {
namespace {

using namespace std::chrono_literals;

// Everything the callbacks received, per request.
class Collector {
 public:
  Engine::OutputCallback callback() {
    return [this](const RequestOutput& out) {
      const std::lock_guard lock(mutex_);
      Stream& s = streams_[out.request_id];
      EXPECT_EQ(s.status, FinishStatus::kRunning) << out.request_id << ": delta after the end";
      s.tokens.insert(s.tokens.end(), out.new_token_ids.begin(), out.new_token_ids.end());
      s.text += out.new_text;
      s.status = out.status;
      s.error = out.error;
      s.num_deltas += 1;
      EXPECT_EQ(out.num_output_tokens, static_cast<int64_t>(s.tokens.size()));
      if (!out.new_token_ids.empty()) {
        EXPECT_TRUE(out.first_token_time.has_value());
      }
      if (out.status != FinishStatus::kRunning) {
        ++num_finished_;
        done_.notify_all();
      }
    };
  }

  // Waits until `n` requests have finished (fails the test after 60 s).
  void wait_for(int n) {
    std::unique_lock lock(mutex_);
    ASSERT_TRUE(done_.wait_for(lock, 60s, [&] { return num_finished_ >= n; }))
        << num_finished_ << " of " << n << " finished";
  }

  struct Stream {
    std::vector<int32_t> tokens;
    std::string text;
    FinishStatus status = FinishStatus::kRunning;
    std::string error;
    int num_deltas = 0;
  };
  Stream get(const std::string& id) {
    const std::lock_guard lock(mutex_);
    return streams_[id];
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::map<std::string, Stream> streams_;
  int num_finished_ = 0;
};

Request make_request(const std::string& id, std::vector<int32_t> prompt, int32_t max_tokens) {
  Request r;
  r.id = id;
  r.prompt_ids = std::move(prompt);
  r.sampling.temperature = 0.0F;
  r.sampling.max_tokens = max_tokens;
  r.sampling.ignore_eos = true;
  return r;
}

std::vector<int32_t> random_prompt(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, 511);
  std::vector<int32_t> ids = {1};
  while (static_cast<int>(ids.size()) < n) {
    ids.push_back(token(rng));
  }
  return ids;
}

class EngineThreadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = testing::load(testing::stories260k_dir(), SwiftKVMode::kOn);
    tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::load(testing::stories260k_dir()));
  }
  static void TearDownTestSuite() {
    model_.reset();
    tokenizer_.reset();
  }

  std::unique_ptr<Engine> make_engine(int64_t max_queued_requests = 1024,
                                      int64_t max_num_batched_tokens = 64) {
    return std::make_unique<Engine>(*model_, *tokenizer_, ctx_,
                                    config(max_queued_requests, max_num_batched_tokens));
  }
  static EngineConfig config(int64_t max_queued_requests = 1024,
                             int64_t max_num_batched_tokens = 64) {
    return EngineConfig{.block_size = 16,
                        .num_blocks = 48,
                        .max_model_len = 512,
                        .max_num_batched_tokens = max_num_batched_tokens,
                        .max_num_seqs = 8,
                        .max_queued_requests = max_queued_requests,
                        .enable_prefix_caching = true};
  }

  // Polls until the engine holds no request and no block.
  static void expect_idle(const Engine& engine) {
    for (int i = 0; i < 2000; ++i) {
      const EngineStats s = engine.stats();
      if (s.num_running == 0 && s.num_waiting == 0 && s.num_blocks_used == 0) {
        return;
      }
      std::this_thread::sleep_for(1ms);
    }
    ADD_FAILURE() << "the engine did not become idle";
  }

  static std::unique_ptr<LlamaModel> model_;
  static std::unique_ptr<Tokenizer> tokenizer_;
  ThreadPool pool_{2};
  ops::Context ctx_{.backend = ops::Backend::kCpu, .pool = &pool_};
};

std::unique_ptr<LlamaModel> EngineThreadTest::model_;
std::unique_ptr<Tokenizer> EngineThreadTest::tokenizer_;

TEST_F(EngineThreadTest, ConcurrentClientsGetTheOfflineResults) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 4;
  std::vector<Request> requests;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    requests.push_back(make_request(str_cat("req-", i), random_prompt(5 + 7 * i, i), 10 + i));
    if (i % 2 == 1) {
      requests.back().sampling.temperature = 0.7F;
      requests.back().sampling.seed = i;
    }
  }
  OfflineEngine offline(*model_, tokenizer_.get(), ctx_, config(1024, 8192));
  const std::vector<CompletionResult> expected = offline.generate(requests);

  Collector collector;
  {
    const auto engine = make_engine();
    std::vector<std::thread> clients;
    for (int t = 0; t < kThreads; ++t) {
      clients.emplace_back([&, t] {
        for (int k = 0; k < kPerThread; ++k) {
          engine->add_request(requests[static_cast<size_t>(t * kPerThread + k)],
                              collector.callback());
        }
      });
    }
    for (std::thread& c : clients) {
      c.join();
    }
    collector.wait_for(kThreads * kPerThread);
    expect_idle(*engine);
    const EngineStats stats = engine->stats();
    EXPECT_GT(stats.num_generation_tokens, 0);
    EXPECT_FALSE(stats.dead);
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const Collector::Stream s = collector.get(requests[i].id);
    EXPECT_EQ(s.tokens, expected[i].output_ids) << requests[i].id;
    EXPECT_EQ(s.text, expected[i].text) << requests[i].id;
    EXPECT_EQ(s.status, FinishStatus::kLength) << requests[i].id;
    EXPECT_EQ(s.num_deltas, static_cast<int>(s.tokens.size()));  // one delta per token
  }
}

TEST_F(EngineThreadTest, AbortFromACallbackFreesTheRequest) {
  const auto engine = make_engine();
  Collector collector;
  Engine* e = engine.get();
  const Engine::OutputCallback inner = collector.callback();
  engine->add_request(make_request("long", random_prompt(30, 1), 400),
                      [&, e](const RequestOutput& out) {
                        inner(out);
                        if (out.num_output_tokens == 3) {
                          e->abort("long");
                        }
                      });
  engine->add_request(make_request("short", random_prompt(10, 2), 5), collector.callback());
  collector.wait_for(2);
  EXPECT_EQ(collector.get("long").status, FinishStatus::kAbort);
  EXPECT_LT(collector.get("long").tokens.size(), 400U);
  EXPECT_EQ(collector.get("short").status, FinishStatus::kLength);
  engine->abort("unknown");  // no-op
  engine->abort("long");     // finished: no-op
  expect_idle(*engine);
}

TEST_F(EngineThreadTest, DeadlinesAbort) {
  const auto engine = make_engine();
  Collector collector;
  Request late = make_request("late", random_prompt(10, 3), 500);
  late.deadline = std::chrono::steady_clock::now() + 20ms;
  engine->add_request(late, collector.callback());
  collector.wait_for(1);
  EXPECT_EQ(collector.get("late").status, FinishStatus::kAbort);
  expect_idle(*engine);
}

TEST_F(EngineThreadTest, QueueLimitAndValidation) {
  const auto full = make_engine(/*max_queued_requests=*/0);
  Collector collector;
  EXPECT_THROW(full->add_request(make_request("a", {1, 5}, 4), collector.callback()),
               QueueFullError);

  const auto engine = make_engine();
  EXPECT_THROW(engine->add_request(make_request("empty", {}, 4), collector.callback()), Error);
  EXPECT_THROW(engine->add_request(make_request("oov", {1, 9999}, 4), collector.callback()), Error);
  EXPECT_THROW(
      engine->add_request(make_request("long", random_prompt(512, 1), 4), collector.callback()),
      Error);
  engine->add_request(make_request("dup", random_prompt(10, 4), 300), collector.callback());
  EXPECT_THROW(engine->add_request(make_request("dup", {1, 5}, 4), collector.callback()), Error);
  engine->abort("dup");
  collector.wait_for(1);
}

TEST_F(EngineThreadTest, ShutdownDrainsThenRefuses) {
  const auto engine = make_engine();
  Collector collector;
  for (int i = 0; i < 4; ++i) {
    engine->add_request(make_request(str_cat("r", i), random_prompt(20, i), 20),
                        collector.callback());
  }
  engine->shutdown(60s);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(collector.get(str_cat("r", i)).status, FinishStatus::kLength);
  }
  EXPECT_THROW(engine->add_request(make_request("late", {1, 5}, 4), collector.callback()),
               EngineUnavailableError);
  engine->shutdown(0ms);  // again: no-op
}

TEST_F(EngineThreadTest, ShutdownTimeoutAbortsTheRest) {
  const auto engine = make_engine();
  Collector collector;
  for (int i = 0; i < 3; ++i) {
    engine->add_request(make_request(str_cat("r", i), random_prompt(20, i), 480),
                        collector.callback());
  }
  engine->shutdown(0ms);
  int aborted = 0;
  for (int i = 0; i < 3; ++i) {
    const FinishStatus status = collector.get(str_cat("r", i)).status;
    EXPECT_TRUE(status == FinishStatus::kAbort || status == FinishStatus::kLength);
    aborted += status == FinishStatus::kAbort ? 1 : 0;
  }
  EXPECT_GT(aborted, 0);
}

TEST_F(EngineThreadTest, DestructorAbortsLiveRequests) {
  Collector collector;
  {
    const auto engine = make_engine();
    engine->add_request(make_request("r", random_prompt(20, 1), 480), collector.callback());
  }
  const FinishStatus status = collector.get("r").status;
  EXPECT_TRUE(status == FinishStatus::kAbort || status == FinishStatus::kLength);
}

TEST_F(EngineThreadTest, AThrowingCallbackFailsOnlyItsRequest) {
  const auto engine = make_engine();
  Collector collector;
  const Engine::OutputCallback inner = collector.callback();
  engine->add_request(make_request("bad", random_prompt(12, 1), 50), [&](const RequestOutput& out) {
    inner(out);
    if (out.status == FinishStatus::kRunning) {
      throw std::runtime_error("client went away");
    }
  });
  engine->add_request(make_request("good", random_prompt(12, 2), 20), collector.callback());
  collector.wait_for(2);
  EXPECT_EQ(collector.get("bad").status, FinishStatus::kError);
  EXPECT_NE(collector.get("bad").error.find("client went away"), std::string::npos);
  EXPECT_EQ(collector.get("good").status, FinishStatus::kLength);
  EXPECT_EQ(collector.get("good").tokens.size(), 20U);
  expect_idle(*engine);
}

}  // namespace
}  // namespace swiftkv
