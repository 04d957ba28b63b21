// Flash-attention style prefill kernel on CUDA: variable-length batch, causal mask aligned
// bottom-right, GQA, K/V read from the paged cache (bf16, or e4m3 converted exactly to bf16 in
// shared memory). bf16 in/out, f32 softmax and accumulation.
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/paged_attention_args.h"

namespace swiftkv::cuda {

// out = softmax(q kᵀ · scale) v per query head over the visible cache positions (shapes and
// semantics: paged_attention_args.h). Any query lengths; meant for prompts and prefill chunks
// (decode-shaped batches are served better by decode_attention.h).
//
// One block of 4 warps per (64-query tile of a sequence, query head); K/V tiles of 64 positions
// are gathered through the block table with cp.async, double-buffered; QKᵀ and PV run on
// mma.sync m16n8k16 tensor-core tiles with an online softmax (FlashAttention-2). Query tiles
// are launched longest-first within a sequence. Cost: 4 · head_dim flops per (query, visible
// key, head); K/V are re-read from L2 once per query tile and head.
// e4m3 cache: the two stages hold the raw bytes, and the block converts each stage into one bf16
// K and V tile (then a barrier) before the MMAs.
void prefill_attention_bf16(cudaStream_t stream, const PagedAttentionArgs& args);
void prefill_attention_bf16(cudaStream_t stream, const PagedAttentionArgsFp8& args);

}  // namespace swiftkv::cuda
