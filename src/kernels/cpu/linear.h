// Linear layer without bias, out = x · wᵀ, on the CPU. Contract and checks: ops/linear.h.
#pragma once

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace swiftkv::kernels::cpu {

// out: [num_tokens, out_features] f32; x: [num_tokens, in_features] f32;
// w: [out_features, in_features] f32|bf16|f16.
//
// Split over out_features across `pool`, the only threads used (OpenBLAS is set to one thread,
// process-wide, with openblas_set_num_threads(1) on first use). Up to ~64 tokens (fewer for
// large in_features): a register-tiled kernel that streams w once, converting bf16/f16 on the
// fly. More tokens: cblas_sgemm, on f32 w directly, on bf16/f16 w converted block by block into
// a per-thread buffer (never the whole matrix). Cost and measured speed: linear.cc.
void linear(ThreadPool& pool, const Tensor& out, const Tensor& x, const Tensor& w);

namespace ref {
// Same shapes; f64 accumulation, rounded once per output.
void linear(const Tensor& out, const Tensor& x, const Tensor& w);
}  // namespace ref

}  // namespace swiftkv::kernels::cpu
