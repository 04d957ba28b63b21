// SwiGLU activation out = silu(gate) * up on the CPU. Contract and checks: ops/silu_mul.h.
#pragma once

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace swiftkv::kernels::cpu {

// out, gate, up: [num_tokens, intermediate_size] f32 (out may alias either input). Parallel over
// elements; one scalar expf each (cheap next to the MLP GEMMs around it).
void silu_mul(ThreadPool& pool, const Tensor& out, const Tensor& gate, const Tensor& up);

namespace ref {
// f64 arithmetic, rounded once.
void silu_mul(const Tensor& out, const Tensor& gate, const Tensor& up);
}  // namespace ref

}  // namespace swiftkv::kernels::cpu
