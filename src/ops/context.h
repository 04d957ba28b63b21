// Where and how an op runs. Passed explicitly to every op (no hidden "current device").
#pragma once

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace swiftkv::cuda {
class CudaContext;  // opaque here: stream, cuBLASLt, workspace (kernels/cuda/context.h)
}  // namespace swiftkv::cuda

namespace swiftkv::ops {

// Which implementation family runs the ops.
enum class Backend {
  kReference,  // plain-loop fp32 oracle, single-threaded (CPU)
  kCpu,        // fast multi-threaded, vectorised CPU kernels (OpenBLAS for GEMM)
  kCuda,       // CUDA kernels: device tensors, bf16 activations and weights (ops/device.h), or
               // all f32 for the f32 model
};

struct Context {
  Backend backend = Backend::kCpu;
  ThreadPool* pool = nullptr;         // required by kCpu; ignored otherwise
  cuda::CudaContext* cuda = nullptr;  // required by kCuda (ops::CudaDevice::context())
};

// The default activation dtype of a backend: f32 on the CPU backends, bf16 on CUDA. CUDA ops
// also take f32 activations with f32 weights and caches (the f32 model; checks.h
// activation_dtype_of).
inline DType activation_dtype(const Context& ctx) {
  return ctx.backend == Backend::kCuda ? DType::kBF16 : DType::kF32;
}

}  // namespace swiftkv::ops
