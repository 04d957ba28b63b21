// Column slices of row-major host matrices (internal to src/ops): the CPU versions of the fused
// ops copy the slice a kernel needs into a contiguous tensor and back.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/tensor.h"

namespace swiftkv::ops::detail {

// Columns [begin, begin + width) of a host matrix x [rows, cols] as a new [rows, width] tensor.
inline Tensor copy_columns(const Tensor& x, int64_t begin, int64_t width) {
  const int64_t rows = x.dim(0);
  const size_t elem = dtype_size(x.dtype());
  Tensor out = Tensor::empty({rows, width}, x.dtype());
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(
        static_cast<char*>(out.raw()) + static_cast<size_t>(r * width) * elem,
        static_cast<const char*>(x.raw()) + static_cast<size_t>(r * x.dim(1) + begin) * elem,
        static_cast<size_t>(width) * elem);
  }
  return out;
}

// Writes src [rows, width] back into columns [begin, begin + width) of x [rows, cols].
inline void store_columns(const Tensor& x, int64_t begin, const Tensor& src) {
  const int64_t rows = x.dim(0);
  const int64_t width = src.numel() / (rows == 0 ? 1 : rows);
  const size_t elem = dtype_size(x.dtype());
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(static_cast<char*>(x.raw()) + static_cast<size_t>(r * x.dim(1) + begin) * elem,
                static_cast<const char*>(src.raw()) + static_cast<size_t>(r * width) * elem,
                static_cast<size_t>(width) * elem);
  }
}

}  // namespace swiftkv::ops::detail
