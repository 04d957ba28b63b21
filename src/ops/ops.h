// The device-agnostic op API used by the model. Each op checks shapes and dtypes (throwing
// InternalError via SWIFTKV_CHECK with the offending shapes), then dispatches on
// (backend, weight dtype) to one kernel in src/kernels/<device>/.
//
// Conventions: activations are f32 on CPU; weights may be f32, bf16 or f16; index tensors are
// i32. All tensors are contiguous row-major. `out` may not alias inputs unless stated.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// out[t, :] = table[ids[t], :].
// out: [num_tokens, hidden_size] f32; table: [vocab_size, hidden_size] f32|bf16|f16;
// ids: [num_tokens] i32, each in [0, vocab_size) (checked).
void embedding(const Context& ctx, const Tensor& out, const Tensor& table, const Tensor& ids);

// out = x / sqrt(mean(x^2) + eps) * weight, per row (Hugging Face LlamaRMSNorm: the normalisation
// in f32, then multiplied by the weight).
// out, x: [num_tokens, hidden_size] f32 (out may alias x); weight: [hidden_size] f32|bf16|f16.
void rms_norm(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& weight,
              float eps);

// x += y elementwise. x, y: same shape, f32.
void add_inplace(const Context& ctx, const Tensor& x, const Tensor& y);

// out = x · wᵀ (a linear layer without bias).
// out: [num_tokens, out_features] f32; x: [num_tokens, in_features] f32;
// w: [out_features, in_features] f32|bf16|f16 (the Hugging Face layout).
void linear(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& w);

// Rotary position embedding in the Hugging Face "rotate half" layout, in place:
// for each head and i < head_dim/2, with a = x[i], b = x[i + head_dim/2],
// angle = positions[t] * inv_freq[i]:  x[i] = a cos - b sin,  x[i + head_dim/2] = b cos + a sin.
// cos/sin are computed in f32 from (f32 position × f32 inv_freq), as transformers does.
// x: [num_tokens, num_heads, head_dim] f32; positions: [num_tokens] i32;
// inv_freq: [head_dim / 2] f32 (already including any llama3 scaling).
void rope(const Context& ctx, const Tensor& x, const Tensor& positions, const Tensor& inv_freq);

// out = silu(gate) * up, elementwise. out, gate, up: [num_tokens, intermediate_size] f32.
void silu_mul(const Context& ctx, const Tensor& out, const Tensor& gate, const Tensor& up);

// Paged KV cache of one cache layer: [num_blocks, block_size, num_kv_heads, head_dim] f32.
// A token's slot is block * block_size + offset_in_block.
//
// Writes k[t], v[t] into slot slot_mapping[t] of the caches; a slot of -1 means "skip".
// k, v: [num_tokens, num_kv_heads, head_dim] f32; slot_mapping: [num_tokens] i32.
void write_kv_cache(const Context& ctx, const Tensor& k_cache, const Tensor& v_cache,
                    const Tensor& k, const Tensor& v, const Tensor& slot_mapping);

// Describes a variable-length batch for attention (plain arrays; built by the engine).
// Sequence s owns query rows [query_start_loc[s], query_start_loc[s+1]) and attends to
// kv_lens[s] cached tokens, read through block_tables[s, :]. The causal mask is aligned
// bottom-right: query row i of s (0-based within s) sits at position kv_lens[s] - q_len(s) + i
// and sees cache positions <= that.
struct AttentionMetadata {
  Tensor query_start_loc;  // [num_seqs + 1] i32, non-decreasing, starts at 0
  Tensor kv_lens;          // [num_seqs] i32, kv_lens[s] >= q_len(s)
  Tensor block_tables;     // [num_seqs, max_blocks_per_seq] i32
};

// Causal GQA attention against the paged cache: out = softmax(q kᵀ · scale) v per query head,
// query head h reading kv head h / (num_heads / num_kv_heads).
// out, q: [num_tokens, num_heads, head_dim] f32; k_cache, v_cache as above.
void paged_attention(const Context& ctx, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const AttentionMetadata& metadata, float scale);

}  // namespace swiftkv::ops
