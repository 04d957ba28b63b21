// The one dispatch helper of the ops (internal to src/ops): runs the kernel family chosen by
// ctx.backend. Ops call it after their checks.
#pragma once

#include <string_view>

#include "core/error.h"
#include "ops/context.h"

namespace swiftkv::ops::detail {

// run_reference() for kReference; run_cpu(ThreadPool&) for kCpu (which requires ctx.pool).
template <typename ReferenceFn, typename CpuFn>
void dispatch(const Context& ctx, std::string_view op, ReferenceFn&& run_reference,
              CpuFn&& run_cpu) {
  switch (ctx.backend) {
    case Backend::kReference:
      run_reference();
      return;
    case Backend::kCpu:
      SWIFTKV_CHECK(ctx.pool != nullptr, op, ": the kCpu backend needs ctx.pool");
      run_cpu(*ctx.pool);
      return;
    case Backend::kCuda:
      throw Error(str_cat(op, ": CUDA backend not built"));
  }
  SWIFTKV_CHECK(false, op, ": unknown backend ", static_cast<int>(ctx.backend));
}

}  // namespace swiftkv::ops::detail
