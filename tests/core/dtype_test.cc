#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"

namespace swiftkv {
namespace {

TEST(DType, Bf16RoundTripsRepresentableValues) {
  for (const float v : {0.0F, 1.0F, -2.5F, 3.140625F, 0x1p-100F, -65536.0F}) {
    EXPECT_EQ(bf16_to_f32(f32_to_bf16(v)), v) << v;
  }
}

TEST(DType, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0F + 0x1p-8F)), 1.0F);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: goes up to the even one.
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0F + 3 * 0x1p-8F)), 1.0F + 0x1p-6F);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(DType, F16MatchesIeeeHalf) {
  EXPECT_EQ(f32_to_f16(1.0F), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0F), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.0F), 0x7bff);
  EXPECT_EQ(f32_to_f16(1e6F), 0x7c00);
  EXPECT_EQ(f32_to_f16(0x1p-24F), 0x0001);  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x0001), 0x1p-24F);
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125F);
  for (int bits = 0; bits < 0x7c00; ++bits) {
    const auto h = static_cast<uint16_t>(bits);
    ASSERT_EQ(f32_to_f16(f16_to_f32(h)), h) << bits;
  }
}

TEST(DType, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(parse_dtype("BF16"), DType::kBF16);
  EXPECT_EQ(parse_dtype("float32"), DType::kF32);
  EXPECT_THROW(parse_dtype("I8"), Error);
}

}  // namespace
}  // namespace swiftkv
