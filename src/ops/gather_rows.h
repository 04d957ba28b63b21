// Row gather: out[i, :] = x[indices[i], :]. Used to select the rows that continue into
// SwiftKV's Phase B and the rows that need logits. And copy_tokens, its scatter-gather cousin
// for token ids.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// out: [num_indices, row_size] f32; x: [num_rows, row_size] f32;
// indices: [num_indices] i32, each in [0, num_rows) (checked on the CPU backends).
// kCuda: out and x bf16; indices on the device, not re-checked.
void gather_rows(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& indices);

// ids[pairs[i, 0]] = source[pairs[i, 1]]: pipelined decoding's inputs, the tokens the previous
// step sampled, which are still on the device (model/batch.h). ids [n] i32, source [m] i32, pairs
// [num_pairs, 2] i32, all on ctx's device; indices in range (checked on the CPU backends; on
// kCuda the caller checked them before uploading).
void copy_tokens(const Context& ctx, const Tensor& ids, const Tensor& source, const Tensor& pairs);

}  // namespace swiftkv::ops
