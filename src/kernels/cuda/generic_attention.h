// Paged attention for head sizes the tensor-core kernels do not cover (head_dim other than 64 or
// 128, e.g. stories260K's 8, or more than 16 query heads per kv head), and for every head size of
// the f32 model (the tensor-core kernels are bf16-only). Plain f32 CUDA cores, bf16 or f32
// in/out (a bf16, e4m3 or, for f32, f32 cache); any query lengths. Meant for small models and
// tests, not for speed.
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/paged_attention_args.h"

namespace swiftkv::cuda {

// Same semantics as prefill_attention_bf16 (paged_attention_args.h), for even head_dim <= 128
// and any GQA ratio. One block of 128 threads per (query row, head): each tile of 128 visible
// positions is scored one position per thread, then folded into an online softmax whose output
// dims are spread over the threads. Rows past query_start_loc[num_seqs] are not written.
// Cost: reads each visible K/V row once per (query row, head).
void generic_attention_bf16(cudaStream_t stream, const PagedAttentionArgs& args);
void generic_attention_bf16(cudaStream_t stream, const PagedAttentionArgsFp8& args);
void generic_attention_f32(cudaStream_t stream, const PagedAttentionArgsT<float>& args);

}  // namespace swiftkv::cuda
