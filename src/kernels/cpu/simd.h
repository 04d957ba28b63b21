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

// e^x per lane for x in [-87.3, 88.3] (clamped there, so e^-inf is ~1e-38, not 0): 2^k · e^r with
// k = round(x·log2 e), r = x − k·ln 2 (ln 2 in two parts), e^r by its degree-6 Taylor polynomial
// on |r| <= ln2/2 (relative error < 2e-7; e^0 is exactly 1).
[[gnu::always_inline]] inline VecF exp(VecF x) {
  x = x < -87.3365F ? splat(-87.3365F) : x;
  x = x > 88.3F ? splat(88.3F) : x;      // k <= 127: 2^k stays finite
  constexpr float kRound = 12582912.0F;  // 1.5 · 2^23: adding it rounds to an integer
  const VecF k = (x * 1.44269504F + kRound) - kRound;
  const VecF r = (x - k * 0.693145752F) - k * 1.42860677e-6F;
  VecF p = splat(1.0F / 720.0F);
  p = p * r + 1.0F / 120.0F;
  p = p * r + 1.0F / 24.0F;
  p = p * r + 1.0F / 6.0F;
  p = p * r + 0.5F;
  p = p * r + 1.0F;
  p = p * r + 1.0F;
  const VecU32 bits = __builtin_convertvector(__builtin_convertvector(k, VecI32) + 127, VecU32)
                      << 23;
  VecF two_k;
  std::memcpy(&two_k, &bits, sizeof(two_k));
  return p * two_k;
}

namespace detail {

// Lane-wise (a + b) of two shuffles of the 32 lanes of a and b.
[[gnu::always_inline]] inline VecF add_shuffled(VecF a, VecF b, VecI32 first, VecI32 second) {
  return __builtin_shuffle(a, b, first) + __builtin_shuffle(a, b, second);
}

}  // namespace detail

// result[j] = Σ lanes of acc[j]: 16 horizontal sums in 15 vector adds, by halving the lanes per
// row four times (8, 4, 2, 1) while packing twice as many rows into each vector.
[[gnu::always_inline]] inline VecF sum16(const VecF (&acc)[16]) {
  using detail::add_shuffled;
  const VecI32 half_a = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
  const VecI32 half_b = half_a + 8;
  const VecI32 quarter_a = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27};
  const VecI32 quarter_b = quarter_a + 4;
  const VecI32 pair_a = {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29};
  const VecI32 pair_b = pair_a + 2;
  const VecI32 even = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
  const VecI32 odd = even + 1;
  VecF eights[8];  // rows 2k, 2k + 1: 8 partial sums each
  for (int k = 0; k < 8; ++k) {
    eights[k] = add_shuffled(acc[2 * k], acc[2 * k + 1], half_a, half_b);
  }
  VecF fours[4];  // rows 4m .. 4m + 3: 4 partial sums each
  for (int m = 0; m < 4; ++m) {
    fours[m] = add_shuffled(eights[2 * m], eights[2 * m + 1], quarter_a, quarter_b);
  }
  const VecF twos_low = add_shuffled(fours[0], fours[1], pair_a, pair_b);   // rows 0-7
  const VecF twos_high = add_shuffled(fours[2], fours[3], pair_a, pair_b);  // rows 8-15
  return add_shuffled(twos_low, twos_high, even, odd);
}

// result[j] = Σ_c q[c] · rows[j][c] over c < n, for 16 f32 rows (any may repeat).
[[gnu::always_inline]] inline VecF dot16(const float* q, const float* const (&rows)[16],
                                         int64_t n) {
  VecF acc[16] = {};
  int64_t c = 0;
  for (; c + kLanes <= n; c += kLanes) {
    const VecF qv = load(q + c);
    for (int j = 0; j < 16; ++j) {
      acc[j] += qv * load(rows[j] + c);
    }
  }
  VecF result = sum16(acc);
  for (; c < n; ++c) {
    for (int j = 0; j < 16; ++j) {
      result[j] += q[c] * rows[j][c];
    }
  }
  return result;
}

}  // namespace swiftkv::kernels::cpu::simd
