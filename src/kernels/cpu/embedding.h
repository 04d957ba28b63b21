// Embedding lookup on the CPU. Contract and checks: ops/embedding.h (inputs arrive checked).
#pragma once

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace swiftkv::kernels::cpu {

// out: [num_tokens, hidden_size] f32; table: [vocab_size, hidden_size] f32|bf16|f16;
// ids: [num_tokens] i32 in [0, vocab_size). Parallel over tokens; memory-bound.
void embedding(ThreadPool& pool, const Tensor& out, const Tensor& table, const Tensor& ids);

namespace ref {
// Same shapes as above; plain loops.
void embedding(const Tensor& out, const Tensor& table, const Tensor& ids);
}  // namespace ref

}  // namespace swiftkv::kernels::cpu
