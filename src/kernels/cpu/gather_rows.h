// Row gather on the CPU. Contract and checks: ops/gather_rows.h.
#pragma once

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace swiftkv::kernels::cpu {

// out: [num_indices, row_size] f32; x: [num_rows, row_size] f32; indices: [num_indices] i32
// (in range, checked by the op). Parallel over output rows; pure copies.
void gather_rows(ThreadPool& pool, const Tensor& out, const Tensor& x, const Tensor& indices);

namespace ref {
void gather_rows(const Tensor& out, const Tensor& x, const Tensor& indices);
}  // namespace ref

}  // namespace swiftkv::kernels::cpu
