// rope_inv_freq against the transformers formulas evaluated independently here in double.
//
// Tolerance: our result rounds each float32 op of transformers' computation. The largest error
// source is the float32 exponent e = 2i/d (relative error <= 2^-24), which pow amplifies by
// ln(theta) * e <= ln(500000) ~ 13.1; a further ~10 roundings of 2^-24 each follow (pow,
// reciprocal, wavelength, smoothing). Total <= ~23 * 6e-8 ~ 1.4e-6 relative; we allow 2e-6.
#include "model/rope_frequencies.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace swiftkv {
namespace {

constexpr double kRelTol = 2e-6;

ModelConfig llama31_like() {
  ModelConfig c;
  c.hidden_size = 4096;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 8;
  c.head_dim = 128;
  c.rope_theta = 500000.0;
  c.rope_scaling = RopeScaling{.type = RopeType::kLlama3,
                               .factor = 8.0,
                               .low_freq_factor = 1.0,
                               .high_freq_factor = 4.0,
                               .original_max_position_embeddings = 8192};
  return c;
}

// transformers' _compute_llama3_parameters, written out in double.
std::vector<double> llama3_reference(const ModelConfig& c) {
  const RopeScaling& s = c.rope_scaling;
  const double old_len = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_len / s.low_freq_factor;
  const double high_freq_wavelen = old_len / s.high_freq_factor;
  std::vector<double> out;
  for (int64_t i = 0; i < c.head_dim / 2; ++i) {
    const double inv = 1.0 / std::pow(c.rope_theta, static_cast<double>(2 * i) / c.head_dim);
    const double wavelen = 2.0 * std::numbers::pi / inv;
    if (wavelen < high_freq_wavelen) {
      out.push_back(inv);
    } else if (wavelen > low_freq_wavelen) {
      out.push_back(inv / s.factor);
    } else {
      const double smooth =
          (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out.push_back((1.0 - smooth) * inv / s.factor + smooth * inv);
    }
  }
  return out;
}

TEST(RopeFrequencies, DefaultMatchesFormula) {
  ModelConfig c;
  c.head_dim = 8;
  const RopeFrequencies f = rope_frequencies(c);
  ASSERT_EQ(f.inv_freq.size(), 4U);
  EXPECT_EQ(f.attention_scaling, 1.0F);
  EXPECT_EQ(f.inv_freq[0], 1.0F);
  for (size_t i = 0; i < 4; ++i) {
    const double expected = 1.0 / std::pow(10000.0, static_cast<double>(2 * i) / 8.0);
    EXPECT_NEAR(f.inv_freq[i], expected, expected * kRelTol) << i;
  }
}

TEST(RopeFrequencies, LinearDividesByFactor) {
  ModelConfig c;
  c.head_dim = 16;
  const std::vector<float> base = rope_inv_freq(c);
  c.rope_scaling = RopeScaling{.type = RopeType::kLinear, .factor = 4.0};
  const std::vector<float> scaled = rope_inv_freq(c);
  for (size_t i = 0; i < base.size(); ++i) {
    EXPECT_EQ(scaled[i], base[i] / 4.0F) << i;
  }
}

TEST(RopeFrequencies, Llama3MatchesIndependentFormula) {
  const ModelConfig c = llama31_like();
  const RopeFrequencies f = rope_frequencies(c);
  const std::vector<double> expected = llama3_reference(c);
  ASSERT_EQ(f.inv_freq.size(), expected.size());
  EXPECT_EQ(f.attention_scaling, 1.0F);
  ModelConfig unscaled = c;
  unscaled.rope_scaling = RopeScaling{};
  const std::vector<float> base = rope_inv_freq(unscaled);
  int num_high = 0;
  int num_low = 0;
  int num_medium = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(f.inv_freq[i], expected[i], expected[i] * kRelTol) << i;
    const double wavelen = 2.0 * std::numbers::pi / base[i];
    if (wavelen < 2048.0) {  // high frequency: untouched, bit for bit
      EXPECT_EQ(f.inv_freq[i], base[i]) << i;
      ++num_high;
    } else if (wavelen > 8192.0) {  // low frequency: exactly float32 inv_freq / factor
      EXPECT_EQ(f.inv_freq[i], base[i] / 8.0F) << i;
      ++num_low;
    } else {
      ++num_medium;
    }
  }
  // All three bands are exercised by this config.
  EXPECT_GT(num_high, 0);
  EXPECT_GT(num_low, 0);
  EXPECT_GT(num_medium, 0);
}

}  // namespace
}  // namespace swiftkv
