#include "core/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/fp8.h"

namespace swiftkv {
namespace {

constexpr size_t kHostAlignment = 64;

std::shared_ptr<void> allocate_host(size_t nbytes) {
  const size_t rounded = ((nbytes + kHostAlignment - 1) / kHostAlignment) * kHostAlignment;
  void* data = std::aligned_alloc(kHostAlignment, rounded == 0 ? kHostAlignment : rounded);
  if (data == nullptr) {
    throw std::bad_alloc();
  }
  return {data, [](void* p) { std::free(p); }};
}

}  // namespace

int64_t shape_numel(const Shape& shape) {
  int64_t numel = 1;
  for (const int64_t d : shape) {
    SWIFTKV_CHECK(d >= 0, "negative dimension ", d);
    numel *= d;
  }
  return numel;
}

std::string shape_str(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(shape[i]);
  }
  return out + "]";
}

Tensor Tensor::empty(Shape shape, DType dtype) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  auto storage = allocate_host(t.nbytes());
  t.data_ = storage.get();
  t.storage_ = std::move(storage);
  return t;
}

Tensor Tensor::zeros(Shape shape, DType dtype) {
  Tensor t = empty(std::move(shape), dtype);
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::from_f32(Shape shape, const std::vector<float>& values) {
  Tensor t = empty(std::move(shape), DType::kF32);
  SWIFTKV_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "values=", values.size(),
                " shape=", shape_str(t.shape_));
  std::memcpy(t.data_, values.data(), t.nbytes());
  return t;
}

Tensor Tensor::from_i32(Shape shape, const std::vector<int32_t>& values) {
  Tensor t = empty(std::move(shape), DType::kI32);
  SWIFTKV_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "values=", values.size(),
                " shape=", shape_str(t.shape_));
  std::memcpy(t.data_, values.data(), t.nbytes());
  return t;
}

Tensor Tensor::wrap(void* data, Shape shape, DType dtype, Device device,
                    std::shared_ptr<const void> keep_alive) {
  Tensor t;
  t.data_ = data;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::move(keep_alive);
  return t;
}

int64_t Tensor::dim(int64_t dim) const {
  const int64_t index = dim < 0 ? dim + rank() : dim;
  SWIFTKV_CHECK(index >= 0 && index < rank(), "dim ", dim, " of tensor ", shape_str(shape_));
  return shape_[static_cast<size_t>(index)];
}

Tensor Tensor::reshape(Shape shape) const {
  SWIFTKV_CHECK(shape_numel(shape) == numel(), "cannot reshape ", shape_str(shape_), " to ",
                shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  SWIFTKV_CHECK(rank() >= 1 && begin >= 0 && begin <= end && end <= shape_[0], "rows [", begin,
                ", ", end, ") of ", shape_str(shape_));
  Tensor t = *this;
  const int64_t row_elems = shape_[0] == 0 ? 0 : numel() / shape_[0];
  t.data_ = static_cast<char*>(data_) + static_cast<size_t>(begin * row_elems) * dtype_size(dtype_);
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::clone() const {
  SWIFTKV_CHECK(device_ == Device::kCpu, "clone() of a device tensor");
  Tensor t = empty(shape_, dtype_);
  std::memcpy(t.data_, data_, nbytes());
  return t;
}

Tensor Tensor::to_f32() const { return to_dtype(DType::kF32); }

Tensor Tensor::to_dtype(DType dtype) const {
  SWIFTKV_CHECK(device_ == Device::kCpu, "to_dtype() of a device tensor");
  SWIFTKV_CHECK(dtype != DType::kI32 && dtype_ != DType::kI32, "to_dtype() of an index tensor");
  if (dtype == dtype_) {
    return clone();
  }
  Tensor out = empty(shape_, dtype);
  const int64_t n = numel();
  // Convert through f32.
  auto load = [&](int64_t i) -> float {
    switch (dtype_) {
      case DType::kF32:
        return data<const float>()[i];
      case DType::kBF16:
        return bf16_to_f32(data<const uint16_t>()[i]);
      case DType::kF16:
        return f16_to_f32(data<const uint16_t>()[i]);
      case DType::kF8E4M3:
        return fp8_e4m3_to_f32(data<const uint8_t>()[i]);
      case DType::kI32:
        break;
    }
    return 0.0F;
  };
  for (int64_t i = 0; i < n; ++i) {
    const float v = load(i);
    switch (dtype) {
      case DType::kF32:
        out.data<float>()[i] = v;
        break;
      case DType::kBF16:
        out.data<uint16_t>()[i] = f32_to_bf16(v);
        break;
      case DType::kF16:
        out.data<uint16_t>()[i] = f32_to_f16(v);
        break;
      case DType::kF8E4M3:
        out.data<uint8_t>()[i] = f32_to_fp8_e4m3(v);
        break;
      case DType::kI32:
        break;
    }
  }
  return out;
}

}  // namespace swiftkv
