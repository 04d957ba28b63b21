// Writes new K/V rows into the paged KV cache.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// Paged KV cache of one cache layer: [num_blocks, block_size, num_kv_heads, head_dim] f32.
// A token's slot is block * block_size + offset_in_block.
//
// Writes k[t], v[t] into slot slot_mapping[t] of the caches; a slot of -1 means "skip".
// k, v: [num_tokens, num_kv_heads, head_dim] f32; slot_mapping: [num_tokens] i32.
void write_kv_cache(const Context& ctx, const Tensor& k_cache, const Tensor& v_cache,
                    const Tensor& k, const Tensor& v, const Tensor& slot_mapping);

}  // namespace swiftkv::ops
