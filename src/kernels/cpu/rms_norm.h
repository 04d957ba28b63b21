// RMSNorm on the CPU. Contract and checks: ops/rms_norm.h.
#pragma once

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace swiftkv::kernels::cpu {

// out, x: [num_tokens, hidden_size] f32 (out may alias x); weight: [hidden_size] f32|bf16|f16.
// Parallel over tokens; memory-bound (reads x twice from cache, writes out once).
void rms_norm(ThreadPool& pool, const Tensor& out, const Tensor& x, const Tensor& weight,
              float eps);

namespace ref {
// f64 arithmetic, rounded once per output.
void rms_norm(const Tensor& out, const Tensor& x, const Tensor& weight, float eps);
}  // namespace ref

}  // namespace swiftkv::kernels::cpu
