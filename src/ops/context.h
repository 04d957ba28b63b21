// Where and how an op runs. Passed explicitly to every op (no hidden "current device").
#pragma once

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace swiftkv::ops {

// Which implementation family runs the ops.
enum class Backend {
  kReference,  // plain-loop fp32 oracle, single-threaded (CPU)
  kCpu,        // fast multi-threaded, vectorised CPU kernels (OpenBLAS for GEMM)
  kCuda,       // CUDA kernels (issue: CUDA backend)
};

struct Context {
  Backend backend = Backend::kCpu;
  ThreadPool* pool = nullptr;  // required by kCpu; ignored by kReference
};

}  // namespace swiftkv::ops
