// Token embedding lookup on CUDA (bf16 table and output). Contract: ops/embedding.h.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// out[t, :] = table[ids[t], :].
// out: [num_tokens, hidden_size] bf16; table: [vocab_size, hidden_size] bf16;
// ids: [num_tokens] i32 in [0, vocab_size) (checked by the op on the host copy; the kernel
// clamps nothing). One block per token, 16-byte copies when hidden_size % 8 == 0.
void embedding_bf16(cudaStream_t stream, __nv_bfloat16* out, const __nv_bfloat16* table,
                    const int32_t* ids, int64_t num_tokens, int64_t hidden_size);

}  // namespace swiftkv::cuda
