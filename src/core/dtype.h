// Element types and their conversions to and from f32.
//
// bf16 and f16 are stored as raw uint16_t bit patterns; conversion to f32 is exact, conversion
// from f32 rounds to nearest even (NaN stays NaN), matching PyTorch's `.to(torch.bfloat16)`.
// fp8 e4m3 (the CUDA KV cache with --kv-cache-dtype fp8) is stored as raw uint8_t; its
// conversions are in core/fp8.h.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace swiftkv {

// kI32 is for indices (token ids, positions, block tables), never for weights. kF8E4M3 is for the
// CUDA KV cache only (OCP FP8 E4M3, "e4m3fn": core/fp8.h), never for weights or activations.
enum class DType { kF32, kBF16, kF16, kI32, kF8E4M3 };

enum class Device { kCpu, kCuda };

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);  // "f32", "bf16", "f16", "i32", "fp8_e4m3"
// Parses our names, the safetensors names of the weight dtypes ("F32", "BF16", "F16") and
// "fp8" / "fp8_e4m3"; throws Error otherwise.
DType parse_dtype(std::string_view name);
// f32, bf16 or f16: what weights (checkpoints, random models) may be stored as.
bool is_weight_dtype(DType dtype);
std::string_view device_name(Device device);

inline float bf16_to_f32(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

inline uint16_t f32_to_bf16(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffffU) > 0x7f800000U) {
    return static_cast<uint16_t>((bits >> 16) | 0x40U);  // quiet NaN
  }
  const uint32_t rounding_bias = 0x7fffU + ((bits >> 16) & 1U);
  return static_cast<uint16_t>((bits + rounding_bias) >> 16);
}

float f16_to_f32(uint16_t bits);
uint16_t f32_to_f16(float value);

}  // namespace swiftkv
