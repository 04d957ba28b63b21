// Row gather: out[i, :] = x[indices[i], :]. Used to select the rows that continue into
// SwiftKV's Phase B and the rows that need logits.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// out: [num_indices, row_size] f32; x: [num_rows, row_size] f32;
// indices: [num_indices] i32, each in [0, num_rows) (checked on the CPU backends).
// kCuda: out and x bf16; indices on the device, not re-checked.
void gather_rows(const Context& ctx, const Tensor& out, const Tensor& x, const Tensor& indices);

}  // namespace swiftkv::ops
