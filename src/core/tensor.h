// Tensor: a dtype, a shape and a pointer into reference-counted storage.
//
// A Tensor is a cheap handle (like torch::Tensor): copies share the same storage, and views
// (`reshape`, `rows`) keep the storage alive. Storage is either owned host memory (64-byte
// aligned), memory owned elsewhere (a memory-mapped checkpoint, a device allocation) kept alive
// through `keep_alive`. Tensors are always contiguous, row-major.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace swiftkv {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised host tensor.
  static Tensor empty(Shape shape, DType dtype);
  // Zero-filled host tensor.
  static Tensor zeros(Shape shape, DType dtype);
  // Host f32 tensor holding `values` (numel must match).
  static Tensor from_f32(Shape shape, const std::vector<float>& values);
  // Host i32 tensor holding `values` (token ids, positions, index arrays).
  static Tensor from_i32(Shape shape, const std::vector<int32_t>& values);
  // Wraps memory owned elsewhere; `keep_alive` is held as long as any view exists.
  static Tensor wrap(void* data, Shape shape, DType dtype, Device device,
                     std::shared_ptr<const void> keep_alive);

  bool defined() const { return data_ != nullptr || numel() == 0; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  // Size of dimension `dim`; negative dims count from the end.
  int64_t dim(int64_t dim) const;
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  void* raw() const { return data_; }
  template <typename T>
  T* data() const {
    return static_cast<T*>(data_);
  }

  // Same storage, new shape with the same number of elements.
  Tensor reshape(Shape shape) const;
  // Rows [begin, end) along dimension 0, sharing storage.
  Tensor rows(int64_t begin, int64_t end) const;
  // A deep copy in host memory.
  Tensor clone() const;
  // Host f32 copy (converting bf16/f16/fp8_e4m3).
  Tensor to_f32() const;
  // Host copy converted to `dtype` (rounding to nearest even; to fp8_e4m3 saturating, core/fp8.h).
  Tensor to_dtype(DType dtype) const;

 private:
  std::shared_ptr<const void> storage_;
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::kF32;
  Device device_ = Device::kCpu;
};

}  // namespace swiftkv
