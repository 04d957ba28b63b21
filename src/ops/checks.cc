#include "ops/checks.h"

namespace swiftkv::ops::detail {

void check_device(const Context& ctx, std::string_view op,
                  std::initializer_list<const Tensor*> tensors) {
  if (ctx.backend == Backend::kCuda) {
    if (ctx.cuda == nullptr) {
      throw Error(str_cat(op, ": the CUDA backend needs a CUDA context (ops::CudaDevice)"));
    }
    for (const Tensor* t : tensors) {
      SWIFTKV_CHECK(t->device() == Device::kCuda, op, ": a ", shape_str(t->shape()),
                    " tensor is on ", device_name(t->device()),
                    ", the CUDA backend needs device tensors");
    }
    return;
  }
  for (const Tensor* t : tensors) {
    SWIFTKV_CHECK(t->device() == Device::kCpu, op, ": a ", shape_str(t->shape()), " tensor is on ",
                  device_name(t->device()), ", the CPU backends need host tensors");
  }
}

void check_rank(std::string_view op, std::string_view name, const Tensor& t, int64_t rank) {
  SWIFTKV_CHECK(t.rank() == rank, op, ": ", name, " has shape ", shape_str(t.shape()),
                ", expected rank ", rank);
}

void check_dtype(std::string_view op, std::string_view name, const Tensor& t, DType dtype) {
  SWIFTKV_CHECK(t.dtype() == dtype, op, ": ", name, " ", shape_str(t.shape()), " is ",
                dtype_name(t.dtype()), ", expected ", dtype_name(dtype));
}

DType activation_dtype_of(const Context& ctx, std::string_view op, std::string_view name,
                          const Tensor& x) {
  if (ctx.backend == Backend::kCuda && x.dtype() == DType::kF32) {
    return DType::kF32;
  }
  check_dtype(op, name, x, activation_dtype(ctx));
  return x.dtype();
}

void check_cache_dtype(const Context& ctx, std::string_view op, std::string_view name,
                       const Tensor& cache, DType activation_dtype) {
  if (ctx.backend == Backend::kCuda && activation_dtype == DType::kBF16 &&
      cache.dtype() == DType::kF8E4M3) {
    return;
  }
  SWIFTKV_CHECK(
      cache.dtype() == activation_dtype, op, ": ", name, " ", shape_str(cache.shape()), " is ",
      dtype_name(cache.dtype()), ", expected ", dtype_name(activation_dtype),
      activation_dtype == DType::kBF16 && ctx.backend == Backend::kCuda ? " or fp8_e4m3" : "");
}

void check_weight_dtype(std::string_view op, std::string_view name, const Tensor& t) {
  SWIFTKV_CHECK(t.dtype() == DType::kF32 || t.dtype() == DType::kBF16 || t.dtype() == DType::kF16,
                op, ": ", name, " ", shape_str(t.shape()), " is ", dtype_name(t.dtype()),
                ", expected f32, bf16 or f16");
}

void check_shape(std::string_view op, std::string_view name, const Tensor& t,
                 const Shape& expected) {
  SWIFTKV_CHECK(t.shape() == expected, op, ": ", name, " has shape ", shape_str(t.shape()),
                ", expected ", shape_str(expected));
}

}  // namespace swiftkv::ops::detail
