// Arguments shared by the two paged-attention kernels (prefill_attention.h, decode_attention.h).
// Semantics: ops/paged_attention.h — causal GQA attention against the paged KV cache, the mask
// aligned bottom-right: query row i (0-based) of sequence s sits at position
// kv_lens[s] - q_len(s) + i and sees cache positions <= that.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <cstdint>

namespace swiftkv::cuda {

// T is the element type of q and out: __nv_bfloat16 for every kernel, float for
// generic_attention_f32 (the f32 model). TCache is the element type of the caches: T, or
// __nv_fp8_e4m3 under bf16 q/out (--kv-cache-dtype fp8; read exactly, every e4m3 value being a
// bf16 value).
template <typename T, typename TCache = T>
struct PagedAttentionArgsT {
  T* out = nullptr;      // [num_tokens, num_heads, head_dim], contiguous
  const T* q = nullptr;  // [num_tokens, num_heads, head_dim], token stride q_stride
  int64_t q_stride = 0;  // elements between tokens; 0 = num_heads * head_dim
  // [num_blocks, block_size, num_kv_heads, head_dim] each.
  const TCache* k_cache = nullptr;
  const TCache* v_cache = nullptr;
  // Device arrays, as in ops::AttentionMetadata: query_start_loc [num_seqs + 1] non-decreasing
  // from 0; kv_lens [num_seqs] with q_len(s) <= kv_lens[s] <= max_blocks_per_seq * block_size;
  // block_tables [num_seqs, max_blocks_per_seq], entries < num_blocks for the blocks in use.
  // Rows past query_start_loc[num_seqs] (graph padding) are not written.
  const int32_t* query_start_loc = nullptr;
  const int32_t* kv_lens = nullptr;
  const int32_t* block_tables = nullptr;
  int64_t num_seqs = 0;
  int64_t num_tokens = 0;  // rows of q and out (>= query_start_loc[num_seqs])
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // divides num_heads
  int64_t head_dim = 0;      // 64 or 128
  int64_t block_size = 0;
  int64_t max_blocks_per_seq = 0;
  float scale = 0.0F;  // softmax scale, usually 1 / sqrt(head_dim)
};
using PagedAttentionArgs = PagedAttentionArgsT<__nv_bfloat16>;
using PagedAttentionArgsFp8 = PagedAttentionArgsT<__nv_bfloat16, __nv_fp8_e4m3>;

// Host-side checks shared by both kernels: shapes, head_dim, GQA ratio, 16-byte alignment of
// q, out and the caches (throws InternalError naming `kernel` and the offending value).
template <typename TCache>
void check_paged_attention_args(const PagedAttentionArgsT<__nv_bfloat16, TCache>& args,
                                const char* kernel);

}  // namespace swiftkv::cuda
