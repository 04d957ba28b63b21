// The input transforms the one-token linear layer fuses (kernels/cuda/decode_linear.h,
// ops/decode_linear.h); free of CUDA types so the op layer can name them.
#pragma once

namespace swiftkv::cuda {

enum class DecodeLinearInput : int {
  kAsIs = 0,     // x: [k]
  kRmsNorm = 1,  // x: [k], the residual stream; uses norm_weight [k] and eps
  kSiluMul = 2,  // x: [2k], gate | up (the fused gate-up projection's output)
};

}  // namespace swiftkv::cuda
