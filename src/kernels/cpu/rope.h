// Rotary position embedding (rotate-half layout), in place, on the CPU. Contract: ops/rope.h.
#pragma once

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace swiftkv::kernels::cpu {

// x: [num_tokens, num_heads, head_dim] f32 (head_dim even); positions: [num_tokens] i32;
// inv_freq: [head_dim / 2] f32. Parallel over tokens; head_dim/2 cosf+sinf per token, shared by
// all heads.
void rope(ThreadPool& pool, const Tensor& x, const Tensor& positions, const Tensor& inv_freq);

namespace ref {
// cos/sin in f32 exactly as the contract says; the rotation in f64, rounded once.
void rope(const Tensor& x, const Tensor& positions, const Tensor& inv_freq);
}  // namespace ref

}  // namespace swiftkv::kernels::cpu
