// Weight element conversion to f32 (see convert.h).
#include "kernels/cpu/convert.h"

#include <cstring>

#include "core/error.h"
#include "kernels/cpu/simd.h"

namespace swiftkv::kernels::cpu {
namespace {

template <DType D>
[[gnu::always_inline]] inline void convert_typed(const void* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + simd::kLanes <= n; i += simd::kLanes) {
    simd::store(dst + i, simd::load_as_f32<D>(src, i));
  }
  for (; i < n; ++i) {
    dst[i] = simd::scalar_as_f32<D>(src, i);
  }
}

SWIFTKV_CPU_CLONES void convert_16bit(DType dtype, const void* src, float* dst, int64_t n) {
  if (dtype == DType::kBF16) {
    convert_typed<DType::kBF16>(src, dst, n);
  } else {
    convert_typed<DType::kF16>(src, dst, n);
  }
}

}  // namespace

void convert_to_f32(DType dtype, const void* src, float* dst, int64_t n) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kBF16:
    case DType::kF16:
      convert_16bit(dtype, src, dst, n);
      return;
    case DType::kI32:
    case DType::kF8E4M3:
      break;
  }
  throw InternalError(str_cat("cannot convert ", dtype_name(dtype), " weights to f32"));
}

float element_to_f32(DType dtype, const void* base, int64_t i) {
  switch (dtype) {
    case DType::kF32:
      return static_cast<const float*>(base)[i];
    case DType::kBF16:
      return bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::kF16:
      return f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case DType::kI32:
    case DType::kF8E4M3:
      break;
  }
  throw InternalError(str_cat("cannot convert ", dtype_name(dtype), " weights to f32"));
}

}  // namespace swiftkv::kernels::cpu
