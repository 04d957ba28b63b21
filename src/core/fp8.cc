#include "core/fp8.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace swiftkv {

float fp8_e4m3_to_f32(uint8_t bits) {
  const bool negative = (bits & 0x80U) != 0;
  const int exponent = (bits >> 3) & 0xf;
  const int mantissa = bits & 0x7;
  float magnitude = 0.0F;
  if (exponent == 0xf && mantissa == 0x7) {
    magnitude = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -9);  // subnormal or zero
  } else {
    magnitude = std::ldexp(static_cast<float>(8 + mantissa), exponent - 7 - 3);
  }
  return negative ? -magnitude : magnitude;
}

uint8_t f32_to_fp8_e4m3(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  if (std::isnan(value)) {
    return kFp8E4M3NaN;  // canonical, whatever the sign (as CUDA's encoder)
  }
  const auto sign = static_cast<uint8_t>((bits >> 24) & 0x80U);
  const float magnitude = std::fabs(value);
  if (magnitude > 448.0F) {
    // Everything above the largest finite value saturates (with round to nearest, (448, 464]
    // would round to 448 anyway; beyond that __NV_SATFINITE clamps).
    return static_cast<uint8_t>(sign | kFp8E4M3MaxFinite);
  }
  if (magnitude < 0x1p-6F) {
    // Subnormal range (or zero): the value in units of 2^-9, rounded to nearest even by
    // nearbyint in the default rounding mode. The scaling is exact; 8 units is 2^-6, the
    // smallest normal, whose code is 0x08.
    const float units = std::nearbyint(magnitude * 512.0F);
    return static_cast<uint8_t>(sign | static_cast<uint8_t>(units));
  }
  // Normal: re-bias the exponent (127 -> 7) and round the 23-bit mantissa to 3 bits, nearest
  // even (adding 2^19 - 1 plus the lowest kept bit carries into the exponent when needed).
  const uint32_t abs_bits = bits & 0x7fffffffU;
  const uint32_t rounded = abs_bits + 0x7ffffU + ((abs_bits >> 20) & 1U);
  return static_cast<uint8_t>(sign | static_cast<uint8_t>((rounded - (120U << 23)) >> 20));
}

}  // namespace swiftkv
