// Token embedding lookup on CUDA (bf16 or f32 table and output, the model's dtype). Contract:
// ops/embedding.h.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// out[t, :] = table[ids[t] - first_row, :] for ids in [first_row, first_row + num_rows), zero
// rows for other ids (a vocabulary shard under tensor parallelism; the whole table is
// first_row 0, num_rows vocab_size).
// out: [num_tokens, hidden_size]; table: [num_rows, hidden_size] (both bf16, or both f32);
// ids: [num_tokens] i32 (checked against the vocabulary by the op on the host copy). One block
// per token, 16-byte copies when rows are 16-byte aligned.
void embedding_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* table,
                    const int32_t* ids, int64_t num_tokens, int64_t hidden_size, int64_t first_row,
                    int64_t num_rows);
void embedding_f32(cudaStream_t stream, float* out, const float* table, const int32_t* ids,
                   int64_t num_tokens, int64_t hidden_size, int64_t first_row, int64_t num_rows);

}  // namespace swiftkv::cuda
