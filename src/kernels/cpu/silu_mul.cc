// SwiGLU activation: out = silu(gate) * up with silu(g) = g / (1 + exp(-g)) (PyTorch's F.silu).
#include "kernels/cpu/silu_mul.h"

#include <cmath>

#include "kernels/cpu/parallel.h"

namespace swiftkv::kernels::cpu {

void silu_mul(ThreadPool& pool, const Tensor& out, const Tensor& gate, const Tensor& up) {
  float* dst = out.data<float>();
  const float* g = gate.data<float>();
  const float* u = up.data<float>();
  pool.parallel_for(
      out.numel(),
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          dst[i] = g[i] / (1.0F + std::exp(-g[i])) * u[i];
        }
      },
      kMinWorkPerChunk / 16);  // an expf costs ~16 simple operations
}

namespace ref {

void silu_mul(const Tensor& out, const Tensor& gate, const Tensor& up) {
  for (int64_t i = 0; i < out.numel(); ++i) {
    const double g = gate.data<float>()[i];
    const double u = up.data<float>()[i];
    out.data<float>()[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
  }
}

}  // namespace ref
}  // namespace swiftkv::kernels::cpu
