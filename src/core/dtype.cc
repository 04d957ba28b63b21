#include "core/dtype.h"

#include <cmath>

#include "core/error.h"

namespace swiftkv {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32:
    case DType::kI32:
      return 4;
    case DType::kBF16:
    case DType::kF16:
      return 2;
    case DType::kF8E4M3:
      return 1;
  }
  throw InternalError("unknown dtype");
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kBF16:
      return "bf16";
    case DType::kF16:
      return "f16";
    case DType::kI32:
      return "i32";
    case DType::kF8E4M3:
      return "fp8_e4m3";
  }
  throw InternalError("unknown dtype");
}

DType parse_dtype(std::string_view name) {
  if (name == "f32" || name == "F32" || name == "float32") {
    return DType::kF32;
  }
  if (name == "bf16" || name == "BF16" || name == "bfloat16") {
    return DType::kBF16;
  }
  if (name == "f16" || name == "F16" || name == "float16") {
    return DType::kF16;
  }
  if (name == "fp8" || name == "fp8_e4m3") {
    return DType::kF8E4M3;
  }
  throw Error(str_cat("unsupported dtype '", name, "' (expected F32, BF16, F16 or fp8_e4m3)"));
}

bool is_weight_dtype(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kBF16 || dtype == DType::kF16;
}

std::string_view device_name(Device device) { return device == Device::kCpu ? "cpu" : "cuda"; }

float f16_to_f32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000U) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fU;
  uint32_t mantissa = bits & 0x3ffU;
  uint32_t out = 0;
  if (exponent == 0x1fU) {
    out = sign | 0x7f800000U | (mantissa << 13);  // inf or NaN
  } else if (exponent != 0) {
    out = sign | ((exponent + 112U) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    out = sign;  // signed zero
  } else {
    // Subnormal: normalise the mantissa.
    uint32_t shifted_exponent = 113;
    while ((mantissa & 0x400U) == 0) {
      mantissa <<= 1;
      --shifted_exponent;
    }
    out = sign | (shifted_exponent << 23) | ((mantissa & 0x3ffU) << 13);
  }
  return std::bit_cast<float>(out);
}

uint16_t f32_to_f16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000U);
  if (std::isnan(value)) {
    return static_cast<uint16_t>(sign | 0x7e00U);
  }
  const float magnitude = std::fabs(value);
  if (magnitude >= 65520.0F) {
    return static_cast<uint16_t>(sign | 0x7c00U);  // rounds to infinity
  }
  if (magnitude < 6.103515625e-05F) {
    // Subnormal or zero: value / 2^-24, rounded to nearest even.
    const float scaled = std::nearbyint(magnitude * 16777216.0F);
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(scaled));
  }
  const uint32_t abs_bits = bits & 0x7fffffffU;
  // Re-bias the exponent (127 -> 15) and round the 23-bit mantissa to 10 bits, nearest even.
  const uint32_t rounded = abs_bits + 0xfffU + ((abs_bits >> 13) & 1U);
  return static_cast<uint16_t>(sign | static_cast<uint16_t>((rounded - (112U << 23)) >> 13));
}

}  // namespace swiftkv
