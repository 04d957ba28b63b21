// The serving engine's core on stories260K through the offline API: the golden greedy
// continuation, batch invariance (alone vs mixed, chunk sizes, preemption forced by a tiny
// cache, plain and SwiftKV models), parity with the offline Generator, prefix caching,
// logprobs, validation and capacity planning.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/capacity.h"
#include "engine/generator.h"
#include "engine/json_prefix.h"
#include "engine/offline_engine.h"
#include "model/test_models.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv {
namespace {

std::vector<int32_t> random_prompt(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, 511);
  std::vector<int32_t> ids = {1};
  while (static_cast<int>(ids.size()) < n) {
    ids.push_back(token(rng));
  }
  return ids;
}

Request make_request(std::vector<int32_t> prompt, int32_t max_tokens, float temperature = 0.0F,
                     std::optional<uint64_t> seed = std::nullopt) {
  Request r;
  r.prompt_ids = std::move(prompt);
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  r.sampling.max_tokens = max_tokens;
  r.sampling.ignore_eos = true;
  return r;
}

// Prompts of many lengths (1 to 70 tokens: within one block, across blocks, longer than the
// small chunk budgets), one extending another's prefix, greedy and seeded sampling.
std::vector<Request> mixed_requests() {
  std::vector<Request> requests;
  const int lengths[] = {1, 5, 16, 17, 33, 70, 9, 48};
  for (int i = 0; i < 8; ++i) {
    const bool sampled = i % 3 == 2;
    requests.push_back(make_request(random_prompt(lengths[i], 100 + i), 12 + 3 * i,
                                    sampled ? 0.8F : 0.0F,
                                    sampled ? std::optional<uint64_t>(i) : std::nullopt));
  }
  std::vector<int32_t> shared = random_prompt(70, 105);  // request 5's first 40 tokens
  shared.resize(40);
  shared.resize(45, 7);
  requests.push_back(make_request(shared, 20));
  return requests;
}

EngineConfig config_with(int64_t num_blocks, int64_t max_num_batched_tokens,
                         int64_t max_num_seqs = 256, int64_t max_model_len = 128,
                         bool prefix_caching = true) {
  return EngineConfig{.block_size = 16,
                      .num_blocks = num_blocks,
                      .max_model_len = max_model_len,
                      .max_num_batched_tokens = max_num_batched_tokens,
                      .max_num_seqs = max_num_seqs,
                      .max_queued_requests = 1024,
                      .enable_prefix_caching = prefix_caching};
}

class EngineCoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = testing::load(testing::stories260k_dir(), SwiftKVMode::kOn);
    tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::load(testing::stories260k_dir()));
  }
  static void TearDownTestSuite() {
    model_.reset();
    tokenizer_.reset();
  }

  std::vector<CompletionResult> run(const LlamaModel& model, const EngineConfig& config,
                                    std::vector<Request> requests, EngineStats* stats = nullptr) {
    OfflineEngine engine(model, tokenizer_.get(), ctx_, config);
    auto results = engine.generate(std::move(requests));
    if (stats != nullptr) {
      *stats = engine.stats();
    }
    return results;
  }

  // Each request's tokens depend only on the request: alone, mixed with others, with small
  // chunks, few sequences at a time, or preempted and recomputed because the cache is tiny.
  void expect_batch_invariance(const LlamaModel& model) {
    const std::vector<Request> requests = mixed_requests();
    std::vector<CompletionResult> alone;
    for (const Request& r : requests) {
      alone.push_back(run(model, config_with(64, 8192, 256, 128, false), {r})[0]);
    }
    struct Case {
      const char* name;
      EngineConfig config;
      bool preempts;
    };
    const Case cases[] = {
        {"mixed", config_with(64, 8192), false},
        {"chunks of 7", config_with(64, 7), false},
        {"chunks of 40, 3 seqs", config_with(64, 40, 3), false},
        {"tiny cache", config_with(8, 64), true},
        {"tiny cache, no prefix caching", config_with(9, 23, 256, 128, false), true},
    };
    for (const Case& c : cases) {
      EngineStats stats;
      const auto results = run(model, c.config, requests, &stats);
      for (size_t i = 0; i < requests.size(); ++i) {
        EXPECT_EQ(results[i].output_ids, alone[i].output_ids) << c.name << ", request " << i;
        EXPECT_EQ(results[i].text, alone[i].text) << c.name << ", request " << i;
        EXPECT_EQ(results[i].status, FinishStatus::kLength) << c.name << ", request " << i;
      }
      EXPECT_EQ(stats.num_preemptions > 0, c.preempts) << c.name;
      EXPECT_EQ(stats.num_blocks_used, 0) << c.name;
    }
  }

  static std::unique_ptr<LlamaModel> model_;
  static std::unique_ptr<Tokenizer> tokenizer_;
  ThreadPool pool_{2};
  ops::Context ctx_{.backend = ops::Backend::kCpu, .pool = &pool_};
};

std::unique_ptr<LlamaModel> EngineCoreTest::model_;
std::unique_ptr<Tokenizer> EngineCoreTest::tokenizer_;

TEST_F(EngineCoreTest, GreedyFromBosMatchesGolden256) {
  const auto results = run(*model_, config_with(32, 8192, 256, 512), {make_request({1}, 256)});
  EXPECT_EQ(results[0].output_ids, testing::stories260k_expected_greedy());
  EXPECT_EQ(results[0].status, FinishStatus::kLength);
}

TEST_F(EngineCoreTest, OutputsDoNotDependOnTheBatch) { expect_batch_invariance(*model_); }

// SwiftKV: non-final chunks skip the later layers; rows that need logits are gathered.
TEST_F(EngineCoreTest, SwiftKVOutputsDoNotDependOnTheBatch) {
  const auto model = testing::load(testing::stories260k_swiftkv_dir(3, 2), SwiftKVMode::kOn);
  ASSERT_TRUE(model->swiftkv_active());
  expect_batch_invariance(*model);
}

// Same tokens and text as the single-request Generator: greedy, seeded sampling with
// penalties, stop strings and EOS.
TEST_F(EngineCoreTest, MatchesTheOfflineGenerator) {
  const Generator generator(*model_, *tokenizer_, ctx_, GeneratorOptions{.max_model_len = 128});
  std::vector<Request> requests;
  const std::vector<int32_t> story = tokenizer_->encode("Once upon a time", true);
  requests.push_back(make_request(story, 60));
  requests.back().sampling.ignore_eos = false;
  requests.push_back(make_request(story, 60, 0.9F, 7));
  requests.back().sampling.top_k = 40;
  requests.back().sampling.repetition_penalty = 1.3F;
  requests.back().sampling.frequency_penalty = 0.5F;
  requests.push_back(make_request(story, 60));
  requests.back().sampling.stop = {"the", "."};
  requests.push_back(make_request(random_prompt(20, 3), 40, 1.0F, 11));
  requests.back().sampling.top_p = 0.9F;
  requests.back().sampling.min_tokens = 5;
  requests.back().sampling.ignore_eos = false;
  const auto results = run(*model_, config_with(64, 8192), requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerationResult expected =
        generator.generate(requests[i].prompt_ids, requests[i].sampling);
    EXPECT_EQ(results[i].output_ids, expected.output_ids) << "request " << i;
    EXPECT_EQ(results[i].text, expected.text) << "request " << i;
    EXPECT_EQ(results[i].status == FinishStatus::kStop,
              expected.finish_reason == FinishReason::kStop)
        << "request " << i;
  }
  EXPECT_EQ(results[2].status, FinishStatus::kStop);  // "the" or "." shows up
}

TEST_F(EngineCoreTest, PrefixCacheHitsAreReportedAndExact) {
  OfflineEngine engine(*model_, tokenizer_.get(), ctx_, config_with(64, 8192));
  const std::vector<int32_t> prompt = random_prompt(45, 21);  // 2 full blocks + 13
  const std::vector<int32_t> exact = random_prompt(32, 22);   // exactly 2 blocks
  const auto first = engine.generate({make_request(prompt, 10), make_request(exact, 10)});
  EXPECT_EQ(first[0].num_cached_prompt_tokens, 0);
  EXPECT_EQ(first[1].num_cached_prompt_tokens, 0);
  const auto second = engine.generate({make_request(prompt, 10), make_request(exact, 10)});
  EXPECT_EQ(second[0].num_cached_prompt_tokens, 32);
  EXPECT_EQ(second[1].num_cached_prompt_tokens, 16);  // the last token is always recomputed
  EXPECT_EQ(second[0].output_ids, first[0].output_ids);
  EXPECT_EQ(second[1].output_ids, first[1].output_ids);
  const EngineStats stats = engine.stats();
  EXPECT_EQ(stats.prefix_cache_queries, 2 * (45 + 32));
  EXPECT_EQ(stats.prefix_cache_hits, 48);
  EXPECT_EQ(stats.num_prompt_tokens, 2 * (45 + 32));
  EXPECT_EQ(stats.num_generation_tokens, 40);
}

// Logprobs are log_softmax of the row each token was sampled from: for greedy, the model's
// logits at that position (compared with a separate prefill over prompt + output).
TEST_F(EngineCoreTest, LogprobsMatchTheModelsDistribution) {
  Request request = make_request(random_prompt(20, 5), 8);
  request.logprobs = 3;
  const auto result = run(*model_, config_with(64, 8192), {request})[0];
  ASSERT_EQ(result.logprobs.size(), 8U);
  std::vector<int32_t> all = request.prompt_ids;
  all.insert(all.end(), result.output_ids.begin(), result.output_ids.end());
  const Tensor logits = compute_prompt_logits(*model_, ctx_, all, 64);
  const int64_t vocab = logits.dim(1);
  for (size_t i = 0; i < result.logprobs.size(); ++i) {
    const TokenLogprobs& lp = result.logprobs[i];
    EXPECT_EQ(lp.token, result.output_ids[i]);
    ASSERT_EQ(lp.top.size(), 3U);
    EXPECT_EQ(lp.top[0].token, lp.token);  // greedy
    EXPECT_FLOAT_EQ(lp.top[0].logprob, lp.logprob);
    EXPECT_GE(lp.top[0].logprob, lp.top[1].logprob);
    EXPECT_GE(lp.top[1].logprob, lp.top[2].logprob);
    const float* row = logits.data<float>() + (19 + static_cast<int64_t>(i)) * vocab;
    double sum = 0.0;
    for (int64_t v = 0; v < vocab; ++v) {
      sum += std::exp(static_cast<double>(row[v]) - row[lp.token]);
    }
    // f32 logits from differently batched GEMMs agree to ~1e-6 relative; logprobs are O(1).
    EXPECT_NEAR(lp.logprob, -std::log(sum), 1e-4) << "token " << i;
  }
}

TEST_F(EngineCoreTest, InvalidRequestsAndConfigsAreErrors) {
  OfflineEngine engine(*model_, tokenizer_.get(), ctx_, config_with(64, 8192));
  EXPECT_THROW(engine.generate({make_request({}, 4)}), Error);
  EXPECT_THROW(engine.generate({make_request({1, 512}, 4)}), Error);
  EXPECT_THROW(engine.generate({make_request(random_prompt(128, 1), 4)}), Error);  // no room
  Request bad_sampling = make_request({1, 5}, 4);
  bad_sampling.sampling.top_p = 0.0F;
  EXPECT_THROW(engine.generate({bad_sampling}), Error);
  Request bad_logprobs = make_request({1, 5}, 4);
  bad_logprobs.logprobs = -2;
  EXPECT_THROW(engine.generate({bad_logprobs}), Error);
  Request a = make_request({1, 5}, 4);
  a.id = "same";
  EXPECT_THROW(engine.generate({a, a}), Error);
  // The engine is still usable after rejected batches.
  EXPECT_EQ(engine.generate({make_request({1, 5}, 4)})[0].output_ids.size(), 4U);

  // A cache smaller than one max_model_len sequence.
  EXPECT_THROW(OfflineEngine(*model_, nullptr, ctx_, config_with(7, 8192, 256, 128)), Error);
  EXPECT_THROW(OfflineEngine(*model_, nullptr, ctx_, config_with(64, 8192, 256, 513)), Error);
}

TEST_F(EngineCoreTest, WithoutATokenizerThereIsNoText) {
  OfflineEngine engine(*model_, nullptr, ctx_, config_with(64, 8192));
  Request request = make_request({1}, 10);
  request.sampling.stop = {"the"};  // ignored without a tokenizer
  const auto results = engine.generate({request});
  EXPECT_EQ(results[0].output_ids.size(), 10U);
  EXPECT_TRUE(results[0].text.empty());
}

TEST_F(EngineCoreTest, PlanNumBlocks) {
  // stories260K: 5 layers x 4 kv heads x 8 dims x K,V x f32 = 1280 bytes per token.
  const int64_t bytes_per_block = 16 * model_->cache_shape(1, 16).bytes_per_token();
  EXPECT_EQ(bytes_per_block, 16 * 1280);
  EXPECT_EQ(plan_num_blocks(*model_, 100 * bytes_per_block + 5, 16), 100);
  EXPECT_EQ(plan_num_blocks(*model_, 32 * bytes_per_block, 16), 32);  // 512 tokens: one sequence
  EXPECT_THROW(plan_num_blocks(*model_, 32 * bytes_per_block - 1, 16), Error);
  EXPECT_EQ(plan_num_blocks(*model_, 8 * bytes_per_block, 16, /*max_model_len=*/128), 8);
  // SwiftKV with fewer cache layers buys more blocks from the same memory.
  const auto swiftkv = testing::load(testing::stories260k_swiftkv_dir(1, 2), SwiftKVMode::kOn);
  EXPECT_EQ(swiftkv->num_cache_layers(), 3);
  EXPECT_EQ(plan_num_blocks(*swiftkv, 100 * bytes_per_block, 16), 166);
}

// response_format json_object on the real tokenizer: whatever stories260K wants to write, the
// output stays a prefix of a JSON object, and a request that ends by EOS ends with the object
// closed (it parses). Without a tokenizer the request is refused.
TEST_F(EngineCoreTest, JsonObjectOutputIsAlwaysAJsonObjectPrefix) {
  std::vector<Request> requests;
  for (int i = 0; i < 4; ++i) {
    Request r = make_request(tokenizer_->encode("Once upon a time", true), 120,
                             i == 0 ? 0.0F : 1.0F, static_cast<uint64_t>(i));
    r.sampling.json_object = true;
    r.sampling.ignore_eos = false;
    requests.push_back(std::move(r));
  }
  const auto results = run(*model_, config_with(64, 8192), requests);
  for (const CompletionResult& r : results) {
    ASSERT_NE(r.status, FinishStatus::kError) << r.error;
    JsonObjectPrefix json;
    EXPECT_TRUE(json.feed_all(r.text)) << r.text;
    EXPECT_NE(r.text.find('{'), std::string::npos) << "the object starts within the budget";
    if (r.status == FinishStatus::kStop) {
      EXPECT_TRUE(json.complete()) << r.text;
      EXPECT_TRUE(nlohmann::json::parse(r.text).is_object()) << r.text;
    }
    std::printf("json_object, status %d, %zu tokens: [%s]\n", static_cast<int>(r.status),
                r.output_ids.size(), r.text.c_str());
  }
  OfflineEngine no_tokenizer(*model_, nullptr, ctx_, config_with(64, 8192));
  EXPECT_THROW(no_tokenizer.generate({requests[0]}), Error);
}

}  // namespace
}  // namespace swiftkv
