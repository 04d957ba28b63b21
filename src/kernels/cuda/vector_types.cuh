// Small device helpers shared by the elementwise kernels of this folder (internal header): the
// element types the kernels are templated on (__nv_bfloat16 for the default bf16 model, float
// for the f32 model, __nv_fp8_e4m3 for an fp8 KV cache), their conversions to and from the f32
// math, and vector accesses.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <type_traits>

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
// Exact (e4m3 -> f16 is exact, f16 -> f32 too). NaN codes give NaN.
__device__ __forceinline__ float to_float(__nv_fp8_e4m3 x) {
  return __half2float(__half(__nv_cvt_fp8_to_halfraw(x.__x, __NV_E4M3)));
}

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
// f32 -> e4m3: nearest even, saturating to ±448 (core/fp8.h's f32_to_fp8_e4m3, bit for bit).
template <>
__device__ __forceinline__ __nv_fp8_e4m3 from_float<__nv_fp8_e4m3>(float x) {
  __nv_fp8_e4m3 out;
  out.__x = __nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3);
  return out;
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

// Stores a pair of T (as PairOf<T>) into two adjacent cache elements of TCache: as is when the
// types match; bf16 -> e4m3 rounded to nearest even and saturating (one cvt for the pair).
template <typename TCache, typename T>
__device__ __forceinline__ void store_pair(TCache* dst, typename PairOf<T>::Type value) {
  if constexpr (std::is_same_v<TCache, T>) {
    *reinterpret_cast<typename PairOf<T>::Type*>(dst) = value;
  } else {
    static_assert(std::is_same_v<TCache, __nv_fp8_e4m3> && std::is_same_v<T, __nv_bfloat16>,
                  "an e4m3 cache takes bf16 values");
    *reinterpret_cast<__nv_fp8x2_storage_t*>(dst) =
        __nv_cvt_float2_to_fp8x2(PairOf<T>::to_float2(value), __NV_SATFINITE, __NV_E4M3);
  }
}

inline bool is_aligned16(const void* pointer) {
  return reinterpret_cast<uintptr_t>(pointer) % 16 == 0;
}

}  // namespace swiftkv::cuda
