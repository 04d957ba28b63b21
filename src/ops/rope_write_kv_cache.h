// RoPE fused with the paged KV-cache write, on the output of a fused projection.
#pragma once

#include <span>

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// qkv: [num_tokens, num_heads * head_dim + num_layers * 2 * num_kv_heads * head_dim], each row
// laid out q | k_0 v_0 | k_1 v_1 | ... (heads contiguous within each part), head_dim =
// 2 * inv_freq.dim(0). Applies ops::rope to q and to every k_i in place, then writes (k_i, v_i)
// into (k_caches[i], v_caches[i]) at slot_mapping as ops::write_kv_cache does (-1 = skip).
// num_layers = k_caches.size() (1 when no caches are given: rotate only). An ordinary layer's
// fused QKV projection is the case num_layers = 1; SwiftKV's all-leaders K/V projection is
// num_heads = 0, one layer per group leader (one launch on CUDA); SwiftKV's Q-only pass is
// num_kv_heads = 0 without caches.
// kCuda: bf16 qkv and caches (or fp8_e4m3 caches: each bf16 value of k and v rounded to e4m3,
// nearest even, saturating to ±448, as core/fp8.h), or all f32; the caches of consecutive
// layers equally spaced in memory (as KvCache allocates them).
// positions: [num_tokens] i32; inv_freq: [head_dim / 2] f32; slot_mapping: [num_tokens] i32
// (undefined when no caches are given).
void rope_write_kv_cache(const Context& ctx, const Tensor& qkv, int64_t num_heads,
                         int64_t num_kv_heads, const Tensor& positions, const Tensor& inv_freq,
                         std::span<const Tensor> k_caches, std::span<const Tensor> v_caches,
                         const Tensor& slot_mapping);

}  // namespace swiftkv::ops
