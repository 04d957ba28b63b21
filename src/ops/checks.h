// Argument checks shared by the ops (internal to src/ops). Each throws InternalError through
// SWIFTKV_CHECK with the op, the argument name and the offending shape or dtype in the message.
#pragma once

#include <initializer_list>
#include <string_view>

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops::detail {

// All tensors live where ctx.backend runs (host memory for kReference and kCpu, device memory
// for kCuda). kCuda without ctx.cuda throws Error here, before any op reads index tensors.
void check_device(const Context& ctx, std::string_view op,
                  std::initializer_list<const Tensor*> tensors);

void check_rank(std::string_view op, std::string_view name, const Tensor& t, int64_t rank);
void check_dtype(std::string_view op, std::string_view name, const Tensor& t, DType dtype);
// The activation dtype of an op, read from its activation `x`: f32 on the CPU backends; on
// kCuda x's own dtype, bf16 (the default model) or f32 (the f32 model, whose weights and KV
// cache are f32 too). Throws for any other; the op then checks its other tensors against it.
DType activation_dtype_of(const Context& ctx, std::string_view op, std::string_view name,
                          const Tensor& x);
// A KV cache holds the activation dtype, or on kCuda under bf16 activations fp8_e4m3
// (CudaModelOptions::kv_cache_dtype).
void check_cache_dtype(const Context& ctx, std::string_view op, std::string_view name,
                       const Tensor& cache, DType activation_dtype);
// f32, bf16 or f16.
void check_weight_dtype(std::string_view op, std::string_view name, const Tensor& t);
void check_shape(std::string_view op, std::string_view name, const Tensor& t,
                 const Shape& expected);

}  // namespace swiftkv::ops::detail
