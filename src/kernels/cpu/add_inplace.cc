// Elementwise x += y (reference and fast versions; both are exact f32 adds).
#include "kernels/cpu/add_inplace.h"

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

namespace swiftkv::kernels::cpu {
namespace {

SWIFTKV_CPU_CLONES void add_range(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    x[i] += y[i];
  }
}

}  // namespace

void add_inplace(ThreadPool& pool, const Tensor& x, const Tensor& y) {
  float* dst = x.data<float>();
  const float* src = y.data<float>();
  pool.parallel_for(
      x.numel(),
      [&](int64_t begin, int64_t end) { add_range(dst + begin, src + begin, end - begin); },
      kMinWorkPerChunk);
}

namespace ref {

void add_inplace(const Tensor& x, const Tensor& y) {
  for (int64_t i = 0; i < x.numel(); ++i) {
    x.data<float>()[i] += y.data<float>()[i];
  }
}

}  // namespace ref
}  // namespace swiftkv::kernels::cpu
