// Elementwise residual add.
#pragma once

#include "core/tensor.h"
#include "ops/context.h"

namespace swiftkv::ops {

// x += y elementwise. x, y: same shape, f32.
void add_inplace(const Context& ctx, const Tensor& x, const Tensor& y);

}  // namespace swiftkv::ops
