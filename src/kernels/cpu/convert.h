// Weight element conversion to f32 for the CPU kernels (bf16 and f16 convert exactly).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace swiftkv::kernels::cpu {

// dst[i] = src[i] as f32 for i < n; src: n elements of `dtype` (f32, bf16 or f16), any
// alignment; dst: n f32. Vectorised; memory-bound (reads 2 or 4 bytes, writes 4 per element).
void convert_to_f32(DType dtype, const void* src, float* dst, int64_t n);

// Element i of a weight array of `dtype`, as f32. Scalar, for the reference kernels.
float element_to_f32(DType dtype, const void* base, int64_t i);

}  // namespace swiftkv::kernels::cpu
