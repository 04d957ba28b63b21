// Elementwise x += y on the CPU. Contract and checks: ops/add_inplace.h.
#pragma once

#include "core/tensor.h"
#include "core/thread_pool.h"

namespace swiftkv::kernels::cpu {

// x, y: same shape (any rank), f32. Parallel over elements; memory-bound (12 bytes/element).
void add_inplace(ThreadPool& pool, const Tensor& x, const Tensor& y);

namespace ref {
void add_inplace(const Tensor& x, const Tensor& y);
}  // namespace ref

}  // namespace swiftkv::kernels::cpu
