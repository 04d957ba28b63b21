// Writes new K/V rows into the paged KV cache on the CPU. Contract and checks:
// ops/write_kv_cache.h.
#pragma once

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace swiftkv::kernels::cpu {

// k_cache, v_cache: [num_blocks, block_size, num_kv_heads, head_dim] f32;
// k, v: [num_tokens, num_kv_heads, head_dim] f32; slot_mapping: [num_tokens] i32, each -1 (skip)
// or in [0, num_blocks * block_size). Parallel over tokens; two row copies per token.
void write_kv_cache(ThreadPool& pool, const Tensor& k_cache, const Tensor& v_cache, const Tensor& k,
                    const Tensor& v, const Tensor& slot_mapping);

namespace ref {
void write_kv_cache(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v,
                    const Tensor& slot_mapping);
}  // namespace ref

}  // namespace swiftkv::kernels::cpu
