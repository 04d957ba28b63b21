#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <vector>

#include "core/error.h"

namespace swiftkv {
namespace {

SamplingParams sampling(float temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.seed = 1;
  return p;
}

std::map<int32_t, int> histogram(Sampler& sampler, const std::vector<float>& logits, int draws) {
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i) {
    std::vector<float> copy = logits;
    counts[sampler.sample(copy)]++;
  }
  return counts;
}

TEST(Sampler, GreedyTakesArgmaxFirstOnTies) {
  Sampler sampler(sampling(0.0F), {});
  std::vector<float> logits = {0.5F, 2.0F, 2.0F, -1.0F};
  EXPECT_EQ(sampler.sample(logits), 1);
}

TEST(Sampler, SeedMakesSamplingReproducible) {
  const std::vector<float> logits = {0.1F, 0.2F, 0.3F, 0.4F, 0.0F, -0.3F};
  std::vector<int32_t> first;
  std::vector<int32_t> second;
  for (std::vector<int32_t>* out : {&first, &second}) {
    Sampler sampler(sampling(1.0F), {});
    for (int i = 0; i < 50; ++i) {
      std::vector<float> copy = logits;
      out->push_back(sampler.sample(copy));
    }
  }
  EXPECT_EQ(first, second);
}

TEST(Sampler, FollowsTheSoftmaxDistribution) {
  // p = softmax([0, ln 3]) = [0.25, 0.75]; 20,000 draws: std of the frequency ~0.003.
  Sampler sampler(sampling(1.0F), {});
  const auto counts = histogram(sampler, {0.0F, std::log(3.0F)}, 20000);
  EXPECT_NEAR(counts.at(1) / 20000.0, 0.75, 0.015);
}

TEST(Sampler, TopKAndTopPAndMinPRestrictTheSupport) {
  const std::vector<float> logits = {std::log(0.5F), std::log(0.3F), std::log(0.15F),
                                     std::log(0.05F)};
  SamplingParams top_k = sampling(1.0F);
  top_k.top_k = 2;
  Sampler k_sampler(top_k, {});
  for (const auto& [token, n] : histogram(k_sampler, logits, 2000)) {
    EXPECT_LT(token, 2);
  }
  // top_p 0.7: 0.5 < 0.7, 0.5 + 0.3 >= 0.7 -> tokens {0, 1}.
  SamplingParams top_p = sampling(1.0F);
  top_p.top_p = 0.7F;
  Sampler p_sampler(top_p, {});
  for (const auto& [token, n] : histogram(p_sampler, logits, 2000)) {
    EXPECT_LT(token, 2);
  }
  // min_p 0.25: keeps p >= 0.125 -> tokens {0, 1, 2}.
  SamplingParams min_p = sampling(1.0F);
  min_p.min_p = 0.25F;
  Sampler m_sampler(min_p, {});
  const auto counts = histogram(m_sampler, logits, 4000);
  EXPECT_EQ(counts.count(3), 0U);
  EXPECT_GT(counts.count(2), 0U);
}

TEST(Sampler, PenaltiesFollowVllmSemantics) {
  SamplingParams p = sampling(0.0F);
  p.repetition_penalty = 2.0F;
  Sampler sampler(p, {});
  const std::vector<int32_t> prompt = {0};
  sampler.set_prompt(prompt);
  // Token 0 (in the prompt): 3.0 / 2 = 1.5 < token 1's 2.0.
  std::vector<float> logits = {3.0F, 2.0F};
  EXPECT_EQ(sampler.sample(logits), 1);
  EXPECT_FLOAT_EQ(logits[0], 1.5F);

  SamplingParams f = sampling(0.0F);
  f.frequency_penalty = 0.5F;
  f.presence_penalty = 0.25F;
  Sampler freq(f, {});
  freq.accept(1);
  freq.accept(1);
  std::vector<float> l2 = {1.0F, 2.0F};
  freq.sample(l2);
  EXPECT_FLOAT_EQ(l2[1], 2.0F - 0.25F - 2 * 0.5F);
  EXPECT_FLOAT_EQ(l2[0], 1.0F);
}

TEST(Sampler, MinTokensMasksEosAndLogitBiasApplies) {
  SamplingParams p = sampling(0.0F);
  p.min_tokens = 1;
  p.logit_bias = {{2, -100.0F}};
  Sampler sampler(p, {0});
  std::vector<float> logits = {5.0F, 1.0F, 4.0F};
  EXPECT_EQ(sampler.sample(logits), 1);  // EOS masked, token 2 biased away
  sampler.accept(1);
  std::vector<float> again = {5.0F, 1.0F, 4.0F};
  EXPECT_EQ(sampler.sample(again), 0);
}

// The rows the GPU sampler may take (engine/device_sampler.h): temperature, top-k/p, min-p and
// the seed only; anything that edits the logits first stays on the host.
TEST(Sampler, DeviceSampleableOnlyWithoutLogitEdits) {
  SamplingParams plain = sampling(0.7F);
  plain.top_k = 5;
  plain.top_p = 0.9F;
  plain.min_p = 0.1F;
  EXPECT_TRUE(Sampler(plain, {2}).device_sampleable());
  EXPECT_EQ(Sampler(plain, {2}).draw_seed(), 1U);
  const auto with = [&](auto edit) {
    SamplingParams p = plain;
    edit(p);
    return Sampler(p, {2}).device_sampleable();
  };
  EXPECT_FALSE(with([](SamplingParams& p) { p.repetition_penalty = 1.1F; }));
  EXPECT_FALSE(with([](SamplingParams& p) { p.presence_penalty = 0.5F; }));
  EXPECT_FALSE(with([](SamplingParams& p) { p.frequency_penalty = 0.5F; }));
  EXPECT_FALSE(with([](SamplingParams& p) { p.logit_bias = {{1, 2.0F}}; }));
  EXPECT_FALSE(with([](SamplingParams& p) { p.min_tokens = 2; }));
  // min_tokens stops mattering once that many tokens are out.
  SamplingParams min_tokens = plain;
  min_tokens.min_tokens = 1;
  Sampler sampler(min_tokens, {2});
  sampler.accept(0);
  EXPECT_TRUE(sampler.device_sampleable());
  // Without EOS or stop tokens there is nothing to mask.
  EXPECT_TRUE(Sampler(min_tokens, {}).device_sampleable());
}

TEST(SamplingParams, ValidationNamesTheField) {
  SamplingParams p;
  p.top_p = 1.5F;
  try {
    p.validate(10);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos);
  }
  SamplingParams q;
  q.max_tokens = -1;
  EXPECT_THROW(q.validate(10), Error);
  SamplingParams r;
  r.stop_token_ids = {10};
  EXPECT_THROW(r.validate(10), Error);
}

// response_format json_object: a toy vocabulary. The best-scoring token that keeps the output a
// JSON-object prefix wins; the end token only once the object is closed, then only whitespace.
TEST(Sampler, JsonObjectConstraintMasksTokensThatCannotContinue) {
  auto texts = std::make_shared<TokenTexts>();
  // 0: EOS (special), 1: "Hello", 2: "{", 3: "\"a\"", 4: ":", 5: " 1", 6: "}", 7: " ", 8: "}}"
  texts->bytes = {"", "Hello", "{", "\"a\"", ":", " 1", "}", " ", "}}"};
  texts->special = {true, false, false, false, false, false, false, false, false};
  Sampler sampler(sampling(0.0F), {0});
  sampler.constrain_to_json_object(texts);
  EXPECT_FALSE(sampler.device_sampleable());
  // Preference order: EOS, "Hello", "}}", then the rest; every step takes the best allowed one.
  const auto step = [&](std::vector<float> logits) {
    const int32_t token = sampler.sample(logits);
    sampler.accept(token);
    return token;
  };
  const std::vector<float> prefer_bad = {9, 8, 1, 1, 1, 1, 1, 1.5F, 7};
  EXPECT_EQ(step(prefer_bad), 7);  // only whitespace or '{' may start; ' ' beats '{' here
  EXPECT_EQ(step({9, 8, 2, 1, 1, 1, 1, 0.5F, 7}), 2);  // "{"
  EXPECT_EQ(step({9, 8, 1, 2, 1, 1, 3, 0.5F, 7}), 6);  // "}" closes the empty object
  EXPECT_EQ(step(prefer_bad), 0);                      // closed: EOS is allowed now
  Sampler fresh(sampling(1.0F), {0});
  fresh.constrain_to_json_object(texts);
  for (const int32_t token : {2, 3, 4, 5}) {  // {"a": 1
    fresh.accept(token);
  }
  for (int i = 0; i < 50; ++i) {  // sampled: only "}" or " " may follow, never EOS or "}}"
    std::vector<float> logits = {5, 5, 5, 5, 5, 5, 0, 0, 5};
    const int32_t token = fresh.sample(logits);
    EXPECT_TRUE(token == 6 || token == 7) << token;
  }
  std::vector<float> only_bad = {1,         1,         -INFINITY, -INFINITY, -INFINITY,
                                 -INFINITY, -INFINITY, -INFINITY, 1};
  EXPECT_THROW(fresh.sample(only_bad), Error);
}

}  // namespace
}  // namespace swiftkv
