// Token embedding lookup.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// out[t, :] = table[ids[t], :].
// out: [num_tokens, hidden_size] f32; table: [vocab_size, hidden_size] f32|bf16|f16;
// ids: [num_tokens] i32, each in [0, vocab_size) (checked on the CPU backends).
// kCuda: table and out bf16; ids on the device, not re-checked (the caller checks them on the
// host before the upload).
void embedding(const Context& ctx, const Tensor& out, const Tensor& table, const Tensor& ids);

// Vocabulary-parallel embedding (tensor parallelism, kCuda only): `table` holds the rows
// [first_row, first_row + table.dim(0)) of the vocabulary; tokens outside it get zero rows, so
// the all-reduced sum over ranks is the full embedding. ids are checked by the caller.
void embedding_shard(const Context& ctx, const Tensor& out, const Tensor& table, const Tensor& ids,
                     int64_t first_row);

}  // namespace swiftkv::ops
