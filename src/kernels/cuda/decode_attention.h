// Paged decode attention on CUDA ("flash-decoding"): each query row's visible cache positions
// are split over several blocks, whose partial results the last of them combines. Best for
// decode-shaped batches (a few query rows per sequence); correct for any query lengths.
// bf16 in/out, f32 softmax and accumulation; the cache bf16 or e4m3 (read exactly).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/paged_attention_args.h"

namespace swiftkv::cuda {

// How many splits to launch for `num_tokens` query rows: enough blocks to fill the GPU about
// four times (up to 64 splits). Depends only on its arguments (and the device's SM count), so a
// CUDA graph keyed by padded batch size can keep it fixed.
int decode_attention_num_splits(int64_t num_tokens, int64_t num_kv_heads);

// Workspace for the partial results ([num_tokens, num_heads, num_splits, head_dim + 1] f32)
// and a count of finished splits per (query row, kv head). The counts must be zero before the
// first call (clear_decode_attention_workspace, once after allocating); every call leaves them
// zero.
size_t decode_attention_workspace_bytes(int64_t num_tokens, int64_t num_heads, int64_t num_kv_heads,
                                        int64_t head_dim, int num_splits);
void clear_decode_attention_workspace(cudaStream_t stream, void* workspace, size_t workspace_bytes);

// out = softmax(q kᵀ · scale) v per query head (shapes and semantics: paged_attention_args.h;
// num_heads / num_kv_heads <= 16). Grid (query row, kv head, split): a block of 4 warps loads
// the group's query heads once (GQA packed into the rows of one 16-row tensor-core tile) and
// streams its share of the row's visible positions (at least 64, a multiple of 64, spread over
// the splits the row needs) through a 3-stage cp.async pipeline; each warp takes 16 positions
// of every 64-position tile (mma.sync m16n8k16). A row with one split writes its output
// directly; otherwise each split writes a partial output and log-sum-exp, and the row's last
// split to finish (an atomic count per row and kv head) weights them by their log-sum-exp and
// writes the output: one kernel, no second launch. Memory-bound: reads each visible K/V row
// once per query row.
// e4m3 cache: the stages hold the raw bytes (half the traffic and the shared memory), read with
// ldmatrix and converted in registers straight into the MMA fragments (no shared-memory round
// trip). Its kernel computes transposed, Sᵀ = K Qᵀ and Oᵀ = Vᵀ Pᵀ: the positions fill the 16
// MMA rows and the group's query heads the 8 columns (Llama 3's groups of 4 would use 4 of 16
// rows the other way round), which halves the MMAs and accumulators and fits 4 blocks per SM;
// it runs in f16 (e4m3 -> f16 exactly, 7 ALU instructions per 4 values, the 2^8 scale folded
// into the softmax scale and the output). On an H200 (random llama-3.1-8b, 2048 cached
// tokens) a decode step of batch 256 takes 17.4 ms with it against 24.5 ms with the bf16 cache.
void decode_attention_bf16(cudaStream_t stream, const PagedAttentionArgs& args, int num_splits,
                           void* workspace, size_t workspace_bytes);
void decode_attention_bf16(cudaStream_t stream, const PagedAttentionArgsFp8& args, int num_splits,
                           void* workspace, size_t workspace_bytes);

// RoPE fused into the bf16 decode kernel for a one-row step (num_tokens == 1): the same output
// and cache as rope_write_kv_cache_bf16 (q, and k when kv_column >= 0, rotated at positions[0];
// k and v written into the caches) followed by decode_attention_bf16, with q and k left
// unrotated in args.q's row and no separate RoPE launch. The row's own k and v are written at
// its position's slot through the block table (the engine's slot_mapping, which must agree).
struct DecodeRope {
  const int32_t* positions = nullptr;  // [num_tokens]
  const float* inv_freq = nullptr;     // [head_dim / 2] f32, 16-byte aligned
  // The row's own k in args.q's row (v num_kv_heads * head_dim later); -1: none, the caches hold
  // the row's position already (SwiftKV's later layers).
  int64_t kv_column = -1;
};
void decode_attention_rope_bf16(cudaStream_t stream, const PagedAttentionArgs& args,
                                const DecodeRope& rope, int num_splits, void* workspace,
                                size_t workspace_bytes);

}  // namespace swiftkv::cuda
