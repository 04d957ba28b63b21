// OCP FP8 E4M3 ("e4m3fn", torch.float8_e4m3fn, CUDA's __nv_fp8_e4m3) on the host: the element
// type of the CUDA KV cache with --kv-cache-dtype fp8 (DType::kF8E4M3), held as raw uint8_t.
//
// Format: 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits. No infinities; S.1111.111
// (0x7f, 0xff) is NaN, so the largest finite magnitude is 1.75 · 2^8 = 448 (0x7e). Exponent 0
// holds the subnormals m · 2^-9 (m = 1..7) and ±0. Every e4m3 value is exactly a bf16, f16 and
// f32 value.
//
// The encoder is the one CUDA's __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3) implements
// (cuda_fp8.hpp; on sm_89+ the instruction cvt.rn.satfinite.e4m3x2.f32), which the cache-write
// kernel uses, as vLLM's fp8 KV cache does with a per-tensor scale of 1.0: round to nearest, ties
// to even; magnitudes above 448 (infinities too) saturate to ±448; NaN gives 0x7f (canonical,
// whatever its sign); magnitudes <= 2^-10 (half the smallest subnormal) give ±0.
#pragma once

#include <cstdint>

namespace swiftkv {

inline constexpr uint8_t kFp8E4M3MaxFinite = 0x7e;  // 448
inline constexpr uint8_t kFp8E4M3NaN = 0x7f;

// Exact. NaN codes decode to a quiet NaN with the code's sign.
float fp8_e4m3_to_f32(uint8_t bits);
// Rounded to nearest even, saturating (see the file header).
uint8_t f32_to_fp8_e4m3(float value);

}  // namespace swiftkv
