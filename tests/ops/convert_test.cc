// The vectorised bf16/f16 -> f32 conversion of the CPU kernels is bit-identical to core's scalar
// conversion for all 65,536 bit patterns, from unaligned memory.
#include "kernels/cpu/convert.h"

#include <gtest/gtest.h>

#include <bit>
#include <vector>

namespace swiftkv::kernels::cpu {
namespace {

void expect_all_patterns(DType dtype, float (*scalar)(uint16_t)) {
  // One leading element so the vector loads start 2-byte aligned; 65,536 is a multiple of 16,
  // so drop one pattern from the range to also exercise the scalar tail, then do it separately.
  std::vector<uint16_t> src(65537);
  for (uint32_t i = 0; i < 65536; ++i) {
    src[i + 1] = static_cast<uint16_t>(i);
  }
  std::vector<float> dst(65536);
  convert_to_f32(dtype, src.data() + 1, dst.data(), 65535);
  convert_to_f32(dtype, src.data() + 65536, dst.data() + 65535, 1);
  int failures = 0;
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint32_t got = std::bit_cast<uint32_t>(dst[i]);
    const uint32_t want = std::bit_cast<uint32_t>(scalar(static_cast<uint16_t>(i)));
    if (got != want && ++failures <= 5) {
      ADD_FAILURE() << dtype_name(dtype) << " pattern 0x" << std::hex << i << " -> 0x" << got
                    << ", expected 0x" << want;
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(Convert, Bf16AllPatternsExact) { expect_all_patterns(DType::kBF16, bf16_to_f32); }

TEST(Convert, F16AllPatternsExact) { expect_all_patterns(DType::kF16, f16_to_f32); }

TEST(Convert, ElementToF32) {
  const uint16_t bf16_one = 0x3f80;
  const uint16_t f16_minus_two = 0xc000;
  const float f32_value = 1.25F;
  EXPECT_EQ(element_to_f32(DType::kBF16, &bf16_one, 0), 1.0F);
  EXPECT_EQ(element_to_f32(DType::kF16, &f16_minus_two, 0), -2.0F);
  EXPECT_EQ(element_to_f32(DType::kF32, &f32_value, 0), 1.25F);
}

}  // namespace
}  // namespace swiftkv::kernels::cpu
