// The one dispatch helper of the ops (internal to src/ops): runs the kernel family chosen by
// ctx.backend. Ops call it after their checks.
#pragma once

#include <string_view>
#include <type_traits>

#include "core/error.h"
#include "ops/context.h"

namespace swiftkv::cuda {
class CudaContext;
}  // namespace swiftkv::cuda

namespace swiftkv::ops::detail {

// Marks an op without a CUDA kernel (the CPU-only ops).
struct NoCudaKernel {};

// run_reference() for kReference; run_cpu(ThreadPool&) for kCpu (which requires ctx.pool);
// run_cuda(cuda::CudaContext&) for kCuda (which requires ctx.cuda), or NoCudaKernel{}.
template <typename ReferenceFn, typename CpuFn, typename CudaFn = NoCudaKernel>
void dispatch(const Context& ctx, std::string_view op, ReferenceFn&& run_reference, CpuFn&& run_cpu,
              CudaFn&& run_cuda = {}) {
  switch (ctx.backend) {
    case Backend::kReference:
      run_reference();
      return;
    case Backend::kCpu:
      SWIFTKV_CHECK(ctx.pool != nullptr, op, ": the kCpu backend needs ctx.pool");
      run_cpu(*ctx.pool);
      return;
    case Backend::kCuda:
      if constexpr (std::is_same_v<std::decay_t<CudaFn>, NoCudaKernel>) {
        throw Error(str_cat(op, ": no CUDA kernel"));
      } else {
        SWIFTKV_CHECK(ctx.cuda != nullptr, op, ": the kCuda backend needs ctx.cuda");
        run_cuda(*ctx.cuda);
      }
      return;
  }
  SWIFTKV_CHECK(false, op, ": unknown backend ", static_cast<int>(ctx.backend));
}

}  // namespace swiftkv::ops::detail
