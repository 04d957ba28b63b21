// Row gather on CUDA: selects the rows that continue into SwiftKV's Phase B and the rows that
// need logits; and the indexed token copy of pipelined decoding. Contracts: ops/gather_rows.h
// (any element type: rows are copied as bytes).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// out[i, :] = x[indices[i], :] for i < num_indices.
// out: [num_indices, row_bytes] bytes; x: [num_rows, row_bytes] bytes; indices: [num_indices]
// i32 in [0, num_rows) (the caller checks; not re-checked on the device). out must not overlap
// x. One block per output row, 16-byte copies when rows and pointers allow.
void gather_rows(cudaStream_t stream, void* out, const void* x, const int32_t* indices,
                 int64_t num_indices, int64_t row_bytes);

// ids[pairs[2 i]] = source[pairs[2 i + 1]] for i < num_pairs (the caller checked the indices).
void copy_tokens(cudaStream_t stream, int32_t* ids, const int32_t* source, const int32_t* pairs,
                 int64_t num_pairs);

}  // namespace swiftkv::cuda
