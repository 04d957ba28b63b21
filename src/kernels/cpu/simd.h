// SIMD building blocks for the fast CPU kernels: GCC vector extensions of 16 f32 lanes, and the
// attribute that compiles a kernel once per x86-64 ISA level.
//
// A function marked SWIFTKV_CPU_CLONES is built three times (x86-64-v4 = AVX-512, x86-64-v3 =
// AVX2 + FMA, baseline x86-64 = SSE2) and the loader picks the best one for the running CPU, so
// the binary runs on any x86-64 without -march flags. The inline helpers below are compiled in
// the clone they are inlined into (a 16-lane vector is one zmm, two ymm or four xmm registers).
// Loads go through memcpy, so pointers need no alignment (memory-mapped weights may be
// 2-byte aligned). Internal to src/kernels/cpu/.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/dtype.h"

// A build may predefine it (e.g. empty, to test the baseline code path on an AVX-512 machine).
#if !defined(SWIFTKV_CPU_CLONES)
#if defined(__x86_64__)
#define SWIFTKV_CPU_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SWIFTKV_CPU_CLONES
#endif
#endif

namespace swiftkv::kernels::cpu::simd {

inline constexpr int64_t kLanes = 16;

using VecF = float __attribute__((vector_size(64)));
using VecU32 = uint32_t __attribute__((vector_size(64)));
using VecI32 = int32_t __attribute__((vector_size(64)));
using VecU16 = uint16_t __attribute__((vector_size(32)));

[[gnu::always_inline]] inline VecF load(const float* p) {
  VecF v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

[[gnu::always_inline]] inline void store(float* p, VecF v) { std::memcpy(p, &v, sizeof(v)); }

[[gnu::always_inline]] inline VecF splat(float value) { return VecF{} + value; }

[[gnu::always_inline]] inline float sum(VecF v) {
  float s = 0.0F;
  for (int64_t l = 0; l < kLanes; ++l) {
    s += v[l];
  }
  return s;
}

[[gnu::always_inline]] inline VecF max(VecF a, VecF b) { return a > b ? a : b; }

// bf16 -> f32 is exact: the 16 bits become the high half of the f32 (one zero-extend + shift).
[[gnu::always_inline]] inline VecF load_bf16(const uint16_t* p) {
  VecU16 h;
  std::memcpy(&h, p, sizeof(h));
  const VecU32 bits = __builtin_convertvector(h, VecU32) << 16;
  VecF v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

// f16 -> f32, exact and branch-free, bit-identical to swiftkv::f16_to_f32: exponent and mantissa
// move into f32 position and a multiply by 2^112 rebiases the exponent (2^(127-15)), which also
// turns f16 subnormals (f32 denormals after the shift) into the right normal value; inf/NaN get
// the all-ones exponent back. Assumes denormals are not flushed (DAZ off, the default).
[[gnu::always_inline]] inline VecF load_f16(const uint16_t* p) {
  VecU16 h16;
  std::memcpy(&h16, p, sizeof(h16));
  const VecU32 h = __builtin_convertvector(h16, VecU32);
  const VecU32 shifted = (h & 0x7fffU) << 13;
  VecF magnitude;
  std::memcpy(&magnitude, &shifted, sizeof(magnitude));
  magnitude *= 0x1p112F;
  VecU32 bits;
  std::memcpy(&bits, &magnitude, sizeof(bits));
  const VecI32 is_inf_or_nan = (h & 0x7c00U) == 0x7c00U;
  bits = is_inf_or_nan ? (shifted | 0x7f800000U) : bits;
  bits |= (h & 0x8000U) << 16;
  VecF v;
  std::memcpy(&v, &bits, sizeof(v));
  return v;
}

// 16 elements of a weight array of dtype D starting at element i, as f32.
template <DType D>
[[gnu::always_inline]] inline VecF load_as_f32(const void* base, int64_t i) {
  if constexpr (D == DType::kF32) {
    return load(static_cast<const float*>(base) + i);
  } else if constexpr (D == DType::kBF16) {
    return load_bf16(static_cast<const uint16_t*>(base) + i);
  } else {
    static_assert(D == DType::kF16);
    return load_f16(static_cast<const uint16_t*>(base) + i);
  }
}

// One element of a weight array of dtype D, as f32 (for loop tails).
template <DType D>
[[gnu::always_inline]] inline float scalar_as_f32(const void* base, int64_t i) {
  if constexpr (D == DType::kF32) {
    return static_cast<const float*>(base)[i];
  } else if constexpr (D == DType::kBF16) {
    return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
  } else {
    static_assert(D == DType::kF16);
    return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
  }
}

// Dot product of two f32 rows of length n (4 independent accumulators).
[[gnu::always_inline]] inline float dot(const float* a, const float* b, int64_t n) {
  VecF acc[4] = {};
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes) {
    for (int64_t u = 0; u < 4; ++u) {
      acc[u] += load(a + i + u * kLanes) * load(b + i + u * kLanes);
    }
  }
  for (; i + kLanes <= n; i += kLanes) {
    acc[0] += load(a + i) * load(b + i);
  }
  float s = sum((acc[0] + acc[1]) + (acc[2] + acc[3]));
  for (; i < n; ++i) {
    s += a[i] * b[i];
  }
  return s;
}

// y += alpha * x over n f32 elements.
[[gnu::always_inline]] inline void axpy(float* y, float alpha, const float* x, int64_t n) {
  const VecF a = splat(alpha);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    store(y + i, load(y + i) + a * load(x + i));
  }
  for (; i < n; ++i) {
    y[i] += alpha * x[i];
  }
}

}  // namespace swiftkv::kernels::cpu::simd
