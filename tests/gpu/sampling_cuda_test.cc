// GPU sampling: greedy equals argmax exactly; top-k / top-p / min-p never pick outside the
// allowed set; a seed gives the same tokens twice; the empirical distribution matches the
// (restricted, renormalised) softmax.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cuda/sampling.h"

namespace swiftkv {
namespace {

using testing::to_device;
using testing::to_host;

struct RowParams {
  float temperature = 1.0F;
  int32_t top_k = 0;
  float top_p = 1.0F;
  float min_p = 0.0F;
  uint64_t seed = 0;
  uint64_t offset = 0;
};

// Samples one token per row; `logits` holds num_rows rows of vocab_size.
std::vector<int32_t> sample(const std::vector<float>& logits, int64_t vocab_size,
                            const std::vector<RowParams>& params) {
  const auto rows = static_cast<int64_t>(params.size());
  std::vector<float> temperatures;
  std::vector<int32_t> top_k;
  std::vector<float> top_p;
  std::vector<float> min_p;
  std::vector<uint64_t> seeds;
  std::vector<uint64_t> offsets;
  for (const RowParams& p : params) {
    temperatures.push_back(p.temperature);
    top_k.push_back(p.top_k);
    top_p.push_back(p.top_p);
    min_p.push_back(p.min_p);
    seeds.push_back(p.seed);
    offsets.push_back(p.offset);
  }
  cuda::Stream stream;
  const cuda::DeviceBuffer d_logits = to_device(logits, stream.get());
  const cuda::DeviceBuffer d_temperatures = to_device(temperatures, stream.get());
  const cuda::DeviceBuffer d_top_k = to_device(top_k, stream.get());
  const cuda::DeviceBuffer d_top_p = to_device(top_p, stream.get());
  const cuda::DeviceBuffer d_min_p = to_device(min_p, stream.get());
  const cuda::DeviceBuffer d_seeds = to_device(seeds, stream.get());
  const cuda::DeviceBuffer d_offsets = to_device(offsets, stream.get());
  const cuda::DeviceBuffer d_tokens =
      to_device(std::vector<int32_t>(static_cast<size_t>(rows), -1), stream.get());
  cuda::sample_tokens(stream.get(), {.tokens = d_tokens.as<int32_t>(),
                                     .logits = d_logits.as<float>(),
                                     .num_rows = rows,
                                     .vocab_size = vocab_size,
                                     .temperatures = d_temperatures.as<float>(),
                                     .top_k = d_top_k.as<int32_t>(),
                                     .top_p = d_top_p.as<float>(),
                                     .min_p = d_min_p.as<float>(),
                                     .seeds = d_seeds.as<uint64_t>(),
                                     .offsets = d_offsets.as<uint64_t>()});
  return to_host<int32_t>(d_tokens, static_cast<size_t>(rows), stream.get());
}

std::vector<float> random_logits(size_t n, std::mt19937& rng, float stddev) {
  std::normal_distribution<float> normal(0.0F, stddev);
  std::vector<float> logits(n);
  for (float& l : logits) {
    l = normal(rng);
  }
  return logits;
}

// Probabilities (f64) of the distribution the sampler draws from: softmax(logits / T), then
// min-p, top-k and top-p as in engine/sampler.cc, renormalised. With `slack` > 0 the cut-offs
// are loosened by that relative amount (a superset, for "never outside the allowed set").
std::vector<double> allowed_distribution(const float* logits, int64_t vocab, const RowParams& p,
                                         double slack) {
  std::vector<double> probs(static_cast<size_t>(vocab));
  const float max_logit = *std::max_element(logits, logits + vocab);
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) {
    probs[static_cast<size_t>(i)] =
        std::exp((static_cast<double>(logits[i]) - max_logit) / p.temperature);
    sum += probs[static_cast<size_t>(i)];
  }
  for (double& q : probs) {
    q /= sum;
  }
  const double max_prob = *std::max_element(probs.begin(), probs.end());
  if (p.min_p > 0.0F) {
    for (double& q : probs) {
      q = q < p.min_p * max_prob * (1.0 - slack) ? 0.0 : q;
    }
  }
  std::vector<int64_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return probs[static_cast<size_t>(a)] > probs[static_cast<size_t>(b)];
  });
  if (p.top_k > 0 && p.top_k < vocab) {
    // Ties with the k-th value are kept (the kernel keeps every value >= the threshold).
    const double kth = probs[static_cast<size_t>(order[static_cast<size_t>(p.top_k - 1)])];
    for (double& q : probs) {
      q = q < kth ? 0.0 : q;
    }
  }
  if (p.top_p < 1.0F) {
    double kept = 0.0;
    for (const double q : probs) {
      kept += q;
    }
    double cumulative = 0.0;
    for (const int64_t i : order) {
      double& q = probs[static_cast<size_t>(i)];
      const bool beyond = cumulative >= p.top_p * kept * (1.0 + slack);
      cumulative += q;
      if (beyond) {
        q = 0.0;
      }
    }
  }
  double total = 0.0;
  for (const double q : probs) {
    total += q;
  }
  for (double& q : probs) {
    q /= total;
  }
  return probs;
}

TEST(CudaSampling, GreedyIsArgmaxExactly) {
  for (const int64_t vocab : {128256, 1000, 7}) {
    SCOPED_TRACE(vocab);
    std::mt19937 rng(static_cast<uint32_t>(vocab));
    const int64_t rows = 33;
    std::vector<float> logits = random_logits(static_cast<size_t>(rows * vocab), rng, 4.0F);
    // Row 0: a tie for the maximum (the first index wins, as std::max_element); row 1: the max
    // at the last index; row 2: all equal.
    logits[static_cast<size_t>(vocab / 2)] = 100.0F;
    logits[static_cast<size_t>(vocab - 1)] = 100.0F;
    logits[static_cast<size_t>(2 * vocab - 1)] = 100.0F;
    std::fill(logits.begin() + 2 * vocab, logits.begin() + 3 * vocab, 0.5F);
    std::vector<RowParams> params(static_cast<size_t>(rows));
    for (size_t r = 0; r < params.size(); ++r) {
      params[r].temperature = r % 2 == 0 ? 0.0F : 1e-6F;  // both below kGreedyTemperature
      params[r].top_k = 5;                                // ignored when greedy
      params[r].seed = r;
    }
    const std::vector<int32_t> tokens = sample(logits, vocab, params);
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = logits.data() + r * vocab;
      const auto expected = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
      ASSERT_EQ(tokens[static_cast<size_t>(r)], expected) << "row " << r;
    }
  }
}

TEST(CudaSampling, NeverPicksOutsideTheAllowedSet) {
  const int64_t vocab = 5000;
  std::mt19937 rng(11);
  const std::vector<float> row = random_logits(static_cast<size_t>(vocab), rng, 3.0F);
  const std::vector<RowParams> settings = {
      {1.0F, 1, 1.0F, 0.0F},  {1.0F, 5, 1.0F, 0.0F},    {0.7F, 50, 1.0F, 0.0F},
      {1.0F, 0, 0.5F, 0.0F},  {1.3F, 0, 0.9F, 0.0F},    {1.0F, 0, 1.0F, 0.2F},
      {2.0F, 0, 1.0F, 0.05F}, {1.0F, 40, 0.8F, 0.0F},   {1.0F, 100, 0.95F, 0.1F},
      {0.5F, 0, 0.01F, 0.0F}, {1.0F, 4999, 1.0F, 0.0F}, {1.0F, 5000, 1.0F, 0.0F},
  };
  const int64_t draws = 400;
  std::vector<RowParams> params;
  std::vector<float> logits;
  for (const RowParams& s : settings) {
    for (int64_t i = 0; i < draws; ++i) {
      RowParams p = s;
      p.seed = 1234;
      p.offset = static_cast<uint64_t>(i);
      params.push_back(p);
      logits.insert(logits.end(), row.begin(), row.end());
    }
  }
  const std::vector<int32_t> tokens = sample(logits, vocab, params);
  for (size_t si = 0; si < settings.size(); ++si) {
    const std::vector<double> allowed = allowed_distribution(row.data(), vocab, settings[si], 1e-4);
    for (int64_t i = 0; i < draws; ++i) {
      const int32_t token = tokens[si * static_cast<size_t>(draws) + static_cast<size_t>(i)];
      ASSERT_TRUE(token >= 0 && token < vocab) << token;
      ASSERT_GT(allowed[static_cast<size_t>(token)], 0.0)
          << "setting " << si << " draw " << i << " picked " << token;
    }
  }
}

TEST(CudaSampling, SeedGivesTheSameTokensTwice) {
  const int64_t vocab = 128256;
  std::mt19937 rng(5);
  const int64_t rows = 16;
  const std::vector<float> logits = random_logits(static_cast<size_t>(rows * vocab), rng, 2.0F);
  std::vector<RowParams> params(static_cast<size_t>(rows));
  for (size_t r = 0; r < params.size(); ++r) {
    params[r] = {
        1.0F, r % 3 == 0 ? 50 : 0, r % 2 == 0 ? 0.9F : 1.0F, r % 5 == 0 ? 0.01F : 0.0F, 42 + r, 7};
  }
  const std::vector<int32_t> first = sample(logits, vocab, params);
  const std::vector<int32_t> second = sample(logits, vocab, params);
  EXPECT_EQ(first, second);
  for (RowParams& p : params) {
    p.offset = 8;  // the next draw of the same requests
  }
  EXPECT_NE(sample(logits, vocab, params), first);  // 16 rows all equal by chance: ~never
}

// Frequencies over n draws must match the target probabilities: each within 5 binomial
// standard deviations (sqrt(p(1-p)/n)) plus 1e-4 for the f32 arithmetic of the kernel; with
// at most 20 categories a false failure has probability < 20 · 6e-7.
void expect_distribution(const std::vector<float>& row, const RowParams& setting, int64_t n,
                         uint64_t seed) {
  const auto vocab = static_cast<int64_t>(row.size());
  std::vector<RowParams> params(static_cast<size_t>(n), setting);
  std::vector<float> logits;
  logits.reserve(static_cast<size_t>(n * vocab));
  for (int64_t i = 0; i < n; ++i) {
    params[static_cast<size_t>(i)].seed = seed;
    params[static_cast<size_t>(i)].offset = static_cast<uint64_t>(i);
    logits.insert(logits.end(), row.begin(), row.end());
  }
  const std::vector<int32_t> tokens = sample(logits, vocab, params);
  std::vector<double> counts(static_cast<size_t>(vocab), 0.0);
  for (const int32_t t : tokens) {
    counts[static_cast<size_t>(t)] += 1.0;
  }
  const std::vector<double> target = allowed_distribution(row.data(), vocab, setting, 0.0);
  for (int64_t i = 0; i < vocab; ++i) {
    const double p = target[static_cast<size_t>(i)];
    const double f = counts[static_cast<size_t>(i)] / static_cast<double>(n);
    EXPECT_NEAR(f, p, 5.0 * std::sqrt(p * (1.0 - p) / static_cast<double>(n)) + 1e-4)
        << "token " << i;
  }
}

TEST(CudaSampling, EmpiricalDistributionMatchesSoftmax) {
  std::mt19937 rng(3);
  const std::vector<float> row = random_logits(20, rng, 1.5F);
  const int64_t n = 40000;
  expect_distribution(row, {0.8F, 0, 1.0F, 0.0F}, n, 1);    // temperature only
  expect_distribution(row, {1.0F, 6, 1.0F, 0.0F}, n, 2);    // top-k
  expect_distribution(row, {1.0F, 0, 0.7F, 0.0F}, n, 3);    // top-p
  expect_distribution(row, {1.2F, 0, 1.0F, 0.1F}, n, 4);    // min-p
  expect_distribution(row, {1.0F, 10, 0.9F, 0.02F}, n, 5);  // all three
}

}  // namespace
}  // namespace swiftkv
