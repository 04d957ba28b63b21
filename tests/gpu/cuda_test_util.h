// Helpers for the CUDA kernel tests: seeded random host data, device round trips, and the
// element checks with derived tolerances. Test-only.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/fp8.h"
#include "core/tensor.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/device_memory.h"

namespace swiftkv::testing {

// bf16 in these tests is held on the host as raw uint16_t bits (core/dtype.h conversions).
inline std::vector<uint16_t> random_bf16(size_t n, std::mt19937& rng, float stddev = 1.0F,
                                         float mean = 0.0F) {
  std::normal_distribution<float> normal(mean, stddev);
  std::vector<uint16_t> values(n);
  for (uint16_t& v : values) {
    v = f32_to_bf16(normal(rng));
  }
  return values;
}

inline std::vector<float> to_f32(const std::vector<uint16_t>& bf16) {
  std::vector<float> values(bf16.size());
  for (size_t i = 0; i < bf16.size(); ++i) {
    values[i] = bf16_to_f32(bf16[i]);
  }
  return values;
}

// A host tensor copying `values` (f32 or i32 or bf16 bits).
inline Tensor f32_tensor(Shape shape, const std::vector<float>& values) {
  return Tensor::from_f32(std::move(shape), values);
}
inline Tensor i32_tensor(Shape shape, const std::vector<int32_t>& values) {
  return Tensor::from_i32(std::move(shape), values);
}
inline Tensor bf16_tensor(Shape shape, const std::vector<uint16_t>& bits) {
  Tensor t = Tensor::empty(std::move(shape), DType::kBF16);
  std::memcpy(t.raw(), bits.data(), bits.size() * sizeof(uint16_t));
  return t;
}

// Device copy of a host vector.
template <typename T>
cuda::DeviceBuffer to_device(const std::vector<T>& host, cudaStream_t stream) {
  cuda::DeviceBuffer buffer(std::max<size_t>(1, host.size() * sizeof(T)));
  if (!host.empty()) {
    buffer.copy_from_host(host.data(), host.size() * sizeof(T), stream);
  }
  return buffer;
}

template <typename T>
std::vector<T> to_host(const cuda::DeviceBuffer& buffer, size_t n, cudaStream_t stream) {
  std::vector<T> host(n);
  if (n > 0) {
    buffer.copy_to_host(host.data(), n * sizeof(T), stream);
  }
  CUDA_CHECK(cudaStreamSynchronize(stream));
  return host;
}

template <typename T>
T* device_ptr(const cuda::DeviceBuffer& buffer) {
  return buffer.as<T>();
}

inline __nv_bfloat16* bf16_ptr(const cuda::DeviceBuffer& buffer) {
  return buffer.as<__nv_bfloat16>();
}

// A bf16 NaN bit pattern: outputs are poisoned with it before a kernel runs, so an element the
// kernel forgot to write fails every comparison.
inline constexpr uint16_t kPoisonBf16 = 0x7fc1;

// The element types the kernels are templated on, as the tests hold them on the host: raw bits
// (so equality and poison checks compare bits, NaN included), with their conversions, the
// relative error of one rounding to the type, and the kernel-side pointer type.
struct Bf16Elem {
  using Bits = uint16_t;
  using Device = __nv_bfloat16;
  static constexpr Bits kPoison = kPoisonBf16;
  static constexpr float kRounding = 0x1p-8F;  // one rounding to nearest: 2^-9, plus slack
  static constexpr DType kDType = DType::kBF16;
  static float to_f32(Bits b) { return bf16_to_f32(b); }
  static Bits from_f32(float x) { return f32_to_bf16(x); }
};
struct F32Elem {
  using Bits = uint32_t;
  using Device = float;
  static constexpr Bits kPoison = 0x7fc00001U;  // a quiet NaN
  static constexpr float kRounding = 0x1p-23F;  // one rounding to nearest: 2^-24, plus slack
  static constexpr DType kDType = DType::kF32;
  static float to_f32(Bits b) {
    float x = 0.0F;
    std::memcpy(&x, &b, sizeof(x));
    return x;
  }
  static Bits from_f32(float x) {
    Bits b = 0;
    std::memcpy(&b, &x, sizeof(b));
    return b;
  }
};

// The e4m3 KV cache (--kv-cache-dtype fp8) as the tests hold it: raw bytes, the host codec of
// core/fp8.h (which the kernels match bit for bit). Poison is the NaN code.
struct Fp8Elem {
  using Bits = uint8_t;
  using Device = __nv_fp8_e4m3;
  static constexpr Bits kPoison = kFp8E4M3NaN;
  static constexpr DType kDType = DType::kF8E4M3;
  static float to_f32(Bits b) { return fp8_e4m3_to_f32(b); }
  static Bits from_f32(float x) { return f32_to_fp8_e4m3(x); }
};

template <typename E>
std::vector<typename E::Bits> random_elems(size_t n, std::mt19937& rng, float stddev = 1.0F,
                                           float mean = 0.0F) {
  std::normal_distribution<float> normal(mean, stddev);
  std::vector<typename E::Bits> values(n);
  for (auto& v : values) {
    v = E::from_f32(normal(rng));
  }
  return values;
}

template <typename E>
std::vector<float> elems_to_f32(const std::vector<typename E::Bits>& bits) {
  std::vector<float> values(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) {
    values[i] = E::to_f32(bits[i]);
  }
  return values;
}

template <typename E>
typename E::Device* elem_ptr(const cuda::DeviceBuffer& buffer) {
  return buffer.as<typename E::Device>();
}

// A host tensor of `bits` in E's dtype.
template <typename E>
Tensor elem_tensor(Shape shape, const std::vector<typename E::Bits>& bits) {
  Tensor t = Tensor::empty(std::move(shape), E::kDType);
  std::memcpy(t.raw(), bits.data(), bits.size() * sizeof(typename E::Bits));
  return t;
}

}  // namespace swiftkv::testing
