// The host e4m3 conversions (core/fp8.h) exhaustively: every code's value, round trips, round to
// nearest even at every midpoint, saturation, NaN, and agreement with a brute-force nearest-value
// search over all bf16 inputs (the values the CUDA cache write converts).
#include "core/fp8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace swiftkv {
namespace {

// The value of code c from the format's definition, computed independently of the decoder.
double reference_value(int c) {
  const int exponent = (c >> 3) & 0xf;
  const int mantissa = c & 7;
  const double magnitude =
      exponent == 0 ? mantissa / 512.0 : (1.0 + mantissa / 8.0) * std::pow(2.0, exponent - 7);
  return (c & 0x80) != 0 ? -magnitude : magnitude;
}

bool is_nan_code(int c) { return (c & 0x7f) == 0x7f; }

// The positive finite codes in increasing order of value: 0x00 .. 0x7e.
std::vector<int> positive_codes() {
  std::vector<int> codes;
  for (int c = 0; c <= 0x7e; ++c) {
    codes.push_back(c);
  }
  return codes;
}

TEST(Fp8E4M3, EveryCodeDecodes) {
  for (int c = 0; c < 256; ++c) {
    const float v = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    if (is_nan_code(c)) {
      EXPECT_TRUE(std::isnan(v)) << c;
      EXPECT_EQ(std::signbit(v), c >= 0x80) << c;
      continue;
    }
    EXPECT_EQ(static_cast<double>(v), reference_value(c)) << "code " << c;
    EXPECT_EQ(std::signbit(v), c >= 0x80) << c;  // -0 is 0x80
  }
  EXPECT_EQ(fp8_e4m3_to_f32(0x01), 0x1p-9F);  // smallest subnormal
  EXPECT_EQ(fp8_e4m3_to_f32(0x07), 7 * 0x1p-9F);
  EXPECT_EQ(fp8_e4m3_to_f32(0x08), 0x1p-6F);  // smallest normal
  EXPECT_EQ(fp8_e4m3_to_f32(0x38), 1.0F);
  EXPECT_EQ(fp8_e4m3_to_f32(0x7e), 448.0F);
  EXPECT_EQ(fp8_e4m3_to_f32(0xfe), -448.0F);
  // Positive codes increase in value (the encoder's search below relies on it).
  const std::vector<int> codes = positive_codes();
  for (size_t i = 1; i < codes.size(); ++i) {
    EXPECT_LT(fp8_e4m3_to_f32(static_cast<uint8_t>(codes[i - 1])),
              fp8_e4m3_to_f32(static_cast<uint8_t>(codes[i])));
  }
}

TEST(Fp8E4M3, FiniteCodesRoundTrip) {
  for (int c = 0; c < 256; ++c) {
    if (!is_nan_code(c)) {
      EXPECT_EQ(f32_to_fp8_e4m3(fp8_e4m3_to_f32(static_cast<uint8_t>(c))), c) << "code " << c;
    }
  }
}

TEST(Fp8E4M3, MidpointsRoundToEvenAndNeighboursToNearest) {
  // Between adjacent positive codes c and c + 1 (c + 1 <= 0x7e), the midpoint goes to the even
  // code, and the nearest f32 values on either side of it to the nearer code; likewise negated.
  for (int c = 0; c < 0x7e; ++c) {
    const float lo = fp8_e4m3_to_f32(static_cast<uint8_t>(c));
    const float hi = fp8_e4m3_to_f32(static_cast<uint8_t>(c + 1));
    const float mid = (lo + hi) / 2;  // exact: 5 significant bits at most
    ASSERT_EQ(static_cast<double>(mid), (reference_value(c) + reference_value(c + 1)) / 2);
    const int even = (c % 2 == 0) ? c : c + 1;
    EXPECT_EQ(f32_to_fp8_e4m3(mid), even) << "midpoint of " << c << " and " << c + 1;
    EXPECT_EQ(f32_to_fp8_e4m3(-mid), even | 0x80) << "negative midpoint of " << c;
    EXPECT_EQ(f32_to_fp8_e4m3(std::nextafter(mid, 0.0F)), c) << c;
    EXPECT_EQ(f32_to_fp8_e4m3(std::nextafter(mid, 1000.0F)), c + 1) << c;
    EXPECT_EQ(f32_to_fp8_e4m3(-std::nextafter(mid, 1000.0F)), (c + 1) | 0x80) << c;
  }
  // Below half the smallest subnormal: zero (with the sign); the tie 2^-10 goes to even (zero).
  EXPECT_EQ(f32_to_fp8_e4m3(0x1p-10F), 0x00);
  EXPECT_EQ(f32_to_fp8_e4m3(-0x1p-10F), 0x80);
  EXPECT_EQ(f32_to_fp8_e4m3(0x1p-30F), 0x00);
  EXPECT_EQ(f32_to_fp8_e4m3(std::numeric_limits<float>::denorm_min()), 0x00);
  EXPECT_EQ(f32_to_fp8_e4m3(-0.0F), 0x80);
}

TEST(Fp8E4M3, SaturatesAndKeepsNaN) {
  for (const float v :
       {448.0F, std::nextafter(448.0F, 1e9F), 460.0F, 464.0F, 480.0F, 1e6F,
        std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity()}) {
    EXPECT_EQ(f32_to_fp8_e4m3(v), kFp8E4M3MaxFinite) << v;
    EXPECT_EQ(f32_to_fp8_e4m3(-v), kFp8E4M3MaxFinite | 0x80) << -v;
  }
  EXPECT_EQ(f32_to_fp8_e4m3(std::numeric_limits<float>::quiet_NaN()), kFp8E4M3NaN);
  EXPECT_EQ(f32_to_fp8_e4m3(-std::numeric_limits<float>::quiet_NaN()), kFp8E4M3NaN);
}

// Every bf16 bit pattern (the cache write converts bf16 values): the encoder picks the nearest
// code, ties to the even code, magnitudes above 448 saturate, NaN stays NaN.
TEST(Fp8E4M3, EveryBf16ValueEncodesToTheNearestCode) {
  const std::vector<int> codes = positive_codes();
  for (uint32_t bits = 0; bits < 0x10000U; ++bits) {
    const float v = bf16_to_f32(static_cast<uint16_t>(bits));
    const uint8_t got = f32_to_fp8_e4m3(v);
    if (std::isnan(v)) {
      ASSERT_TRUE(is_nan_code(got)) << bits;
      continue;
    }
    const double magnitude = std::fabs(static_cast<double>(v));
    int best = 0x7e;
    if (magnitude <= 448.0) {
      double best_distance = INFINITY;
      for (const int c : codes) {
        const double distance = std::fabs(reference_value(c) - magnitude);
        if (distance < best_distance || (distance == best_distance && c % 2 == 0)) {
          best_distance = distance;
          best = c;
        }
      }
    }
    const int expected = best | (std::signbit(v) ? 0x80 : 0);
    ASSERT_EQ(got, expected) << "bf16 bits 0x" << std::hex << bits << " value " << v;
  }
}

TEST(Fp8E4M3, DTypeAndTensorConversions) {
  EXPECT_EQ(dtype_size(DType::kF8E4M3), 1U);
  EXPECT_EQ(dtype_name(DType::kF8E4M3), "fp8_e4m3");
  EXPECT_EQ(parse_dtype("fp8"), DType::kF8E4M3);
  EXPECT_EQ(parse_dtype("fp8_e4m3"), DType::kF8E4M3);
  EXPECT_FALSE(is_weight_dtype(DType::kF8E4M3));
  EXPECT_TRUE(is_weight_dtype(DType::kBF16));
  const Tensor x = Tensor::from_f32({4}, {1.0F, -0.3F, 500.0F, 0x1p-9F});
  const Tensor q = x.to_dtype(DType::kF8E4M3);
  ASSERT_EQ(q.dtype(), DType::kF8E4M3);
  EXPECT_EQ(q.nbytes(), 4U);
  const Tensor back = q.to_f32();
  EXPECT_EQ(back.data<float>()[0], 1.0F);
  EXPECT_EQ(back.data<float>()[1], -0.3125F);  // nearest e4m3 to -0.3: -1.25 * 2^-2
  EXPECT_EQ(back.data<float>()[2], 448.0F);
  EXPECT_EQ(back.data<float>()[3], 0x1p-9F);
}

}  // namespace
}  // namespace swiftkv
