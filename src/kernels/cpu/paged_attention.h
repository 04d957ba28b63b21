// Causal GQA attention against the paged KV cache, on the CPU. Contract and checks:
// ops/paged_attention.h (metadata arrives checked: query_start_loc monotone from 0 to
// num_tokens, q_len(s) <= kv_lens[s] <= max_blocks_per_seq * block_size, used blocks in range).
#pragma once

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace swiftkv::kernels::cpu {

// out, q: [num_tokens, num_heads, head_dim] f32;
// k_cache, v_cache: [num_blocks, block_size, num_kv_heads, head_dim] f32;
// query_start_loc: [num_seqs + 1] i32; kv_lens: [num_seqs] i32;
// block_tables: [num_seqs, max_blocks_per_seq] i32.
// Parallel over (token, kv head), all query heads of the group together so each K/V row is
// read once per token. Cost per token and query head: 4·n·head_dim flops over n = its visible
// cache positions. f32 accumulation, max-subtracted softmax.
void paged_attention(ThreadPool& pool, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const Tensor& query_start_loc, const Tensor& kv_lens,
                     const Tensor& block_tables, float scale);

namespace ref {
// Same shapes; one (token, head) at a time, f64 scores, softmax and output sums.
void paged_attention(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const Tensor& query_start_loc, const Tensor& kv_lens,
                     const Tensor& block_tables, float scale);
}  // namespace ref

}  // namespace swiftkv::kernels::cpu
