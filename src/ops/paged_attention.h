// Causal GQA attention against the paged KV cache (layout: ops/write_kv_cache.h).
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// Describes a variable-length batch for attention (plain arrays; built by the engine).
// Sequence s owns query rows [query_start_loc[s], query_start_loc[s+1]) and attends to
// kv_lens[s] cached tokens, read through block_tables[s, :]. The causal mask is aligned
// bottom-right: query row i of s (0-based within s) sits at position kv_lens[s] - q_len(s) + i
// and sees cache positions <= that.
struct AttentionMetadata {
  Tensor query_start_loc;  // [num_seqs + 1] i32, non-decreasing, starts at 0
  Tensor kv_lens;          // [num_seqs] i32, kv_lens[s] >= q_len(s)
  Tensor block_tables;     // [num_seqs, max_blocks_per_seq] i32
  // Optional host-side hint for device-resident metadata: the longest query of the batch (an
  // upper bound is fine). kCuda runs its split-KV decode kernel when 1 <= max_query_len <=
  // kDecodeMaxQueryLen, else (0 = unknown) the prefill kernel; both are exact for any lengths.
  int64_t max_query_len = 0;
  // Optional host-side hint for a mixed step (kCuda): the first num_decode_seqs sequences, which
  // own the first num_decode_tokens rows, each have at most kDecodeMaxQueryLen rows. When the
  // batch also holds longer ones, those go to the split-KV decode kernel and the rest to the
  // prefill kernel, whose 64-row query tiles would leave a decode row's tile 1/64 full.
  int64_t num_decode_seqs = 0;
  int64_t num_decode_tokens = 0;
};

inline constexpr int64_t kDecodeMaxQueryLen = 4;

// Causal GQA attention against the paged cache: out = softmax(q kᵀ · scale) v per query head,
// query head h reading kv head h / (num_heads / num_kv_heads).
// out, q: [num_tokens, num_heads, head_dim] f32;
// k_cache, v_cache: [num_blocks, block_size, num_kv_heads, head_dim] f32.
// q may also be a fused projection output [num_tokens, width] whose first num_heads * head_dim
// columns are q (num_heads taken from out). kCuda: bf16 out, q and caches (the caches may be
// fp8_e4m3 instead, read exactly), or all f32 (the f32 model); the metadata on the device,
// checked for shape only (its values were checked on the host by whoever built it).
void paged_attention(const Context& ctx, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const AttentionMetadata& metadata, float scale);

// RoPE and the cache write of the step's own k and v, then paged attention: the result of
// rope_write_kv_cache(ctx, qkv, num_heads, rope.num_kv_heads, rope.positions, rope.inv_freq,
// {k_cache}, {v_cache}, rope.slot_mapping) followed by paged_attention(ctx, out, qkv, ...), with
// num_heads = out.dim(1). qkv: the fused projection output [num_tokens, q | k | v] (just q when
// rope.num_kv_heads is 0: SwiftKV's Q-only layers, whose K/V are in the cache already); its q
// and k columns are left rotated or not. kCuda runs a one-row decode step (metadata.max_query_len
// 1, one row, bf16 q and cache) as one kernel, writing the row's k and v at its position's slot
// through block_tables (which slot_mapping must agree with, as the engine builds them); every
// other case runs the two ops.
struct AttentionRope {
  Tensor positions;  // [num_tokens] i32
  Tensor inv_freq;   // [head_dim / 2] f32
  int64_t num_kv_heads = 0;
  Tensor slot_mapping;  // [num_tokens] i32, with num_kv_heads > 0
};
void paged_attention_with_rope(const Context& ctx, const Tensor& out, const Tensor& qkv,
                               const Tensor& k_cache, const Tensor& v_cache,
                               const AttentionMetadata& metadata, float scale,
                               const AttentionRope& rope);

}  // namespace swiftkv::ops
