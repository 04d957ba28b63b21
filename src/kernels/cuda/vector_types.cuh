// Small device helpers shared by the elementwise kernels of this folder (internal header): the
// element types the kernels are templated on (__nv_bfloat16 for the default bf16 model, float
// for the f32 model), their conversions to and from the f32 math, and vector accesses.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace swiftkv::cuda {

// kN elements of T loaded or stored as one access (16 bytes for kVec16<T>).
template <typename T, int kN>
struct alignas(sizeof(T) * kN) Vec {
  T v[kN];
};
template <int kN>
using BF16Vec = Vec<__nv_bfloat16, kN>;

// Elements per 16-byte access: 8 bf16 or 4 f32.
template <typename T>
inline constexpr int kVec16 = static_cast<int>(16 / sizeof(T));

__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_float(float x) { return x; }

// f32 -> T, rounded to nearest even for bf16; the identity for f32.
template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);
}
template <>
__device__ __forceinline__ float from_float<float>(float x) {
  return x;
}

// Two adjacent elements as one access (4 bytes for bf16, 8 for f32), converted as a float2.
template <typename T>
struct PairOf;
template <>
struct PairOf<__nv_bfloat16> {
  using Type = __nv_bfloat162;
  static __device__ __forceinline__ float2 to_float2(Type p) { return __bfloat1622float2(p); }
  static __device__ __forceinline__ Type from_floats(float a, float b) {
    return __floats2bfloat162_rn(a, b);
  }
};
template <>
struct PairOf<float> {
  using Type = float2;
  static __device__ __forceinline__ float2 to_float2(Type p) { return p; }
  static __device__ __forceinline__ Type from_floats(float a, float b) { return make_float2(a, b); }
};

inline bool is_aligned16(const void* pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % 16 == 0;
}

}  // namespace swiftkv::cuda
