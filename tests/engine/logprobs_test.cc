// compute_logprobs: log_softmax of the sampled row, top-k order and masked tokens.
#include "engine/logprobs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace swiftkv {
namespace {

TEST(Logprobs, LogSoftmaxAndTopK) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {1.0F, 3.0F, -inf, 3.0F, 0.5F};
  const double log_z = std::log(std::exp(1.0) + 2 * std::exp(3.0) + std::exp(0.5));
  const TokenLogprobs lp = compute_logprobs(logits, 4, 4);
  EXPECT_EQ(lp.token, 4);
  EXPECT_NEAR(lp.logprob, 0.5 - log_z, 1e-6);
  ASSERT_EQ(lp.top.size(), 4U);
  EXPECT_EQ(lp.top[0].token, 1);  // ties: lower id first
  EXPECT_EQ(lp.top[1].token, 3);
  EXPECT_EQ(lp.top[2].token, 0);
  EXPECT_EQ(lp.top[3].token, 4);
  EXPECT_NEAR(lp.top[0].logprob, 3.0 - log_z, 1e-6);
  EXPECT_EQ(compute_logprobs(logits, 2, 0).logprob, -inf);  // masked (e.g. min_tokens EOS)
  EXPECT_TRUE(compute_logprobs(logits, 2, 0).top.empty());
  EXPECT_EQ(compute_logprobs(logits, 0, 99).top.size(), 5U);  // k is capped at the vocab
}

}  // namespace
}  // namespace swiftkv
