// RMSNorm as Hugging Face LlamaRMSNorm computes it: variance = mean(x^2) in f32,
// y = x * rsqrt(variance + eps), out = weight * y (weight in f32).
// https://github.com/huggingface/transformers/blob/main/src/transformers/models/llama/modeling_llama.py
#include "kernels/cpu/rms_norm.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/convert.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/simd.h"

namespace swiftkv::kernels::cpu {
namespace {

// out, x: [num_rows, hidden_size]; weight: [hidden_size] f32.
SWIFTKV_CPU_CLONES void rms_norm_rows(float* out, const float* x, const float* weight,
                                      int64_t num_rows, int64_t hidden_size, float eps) {
  for (int64_t r = 0; r < num_rows; ++r) {
    const float* xr = x + r * hidden_size;
    float* outr = out + r * hidden_size;
    const float variance = simd::dot(xr, xr, hidden_size) / static_cast<float>(hidden_size);
    const float inv_rms = 1.0F / std::sqrt(variance + eps);
    for (int64_t i = 0; i < hidden_size; ++i) {
      outr[i] = weight[i] * (xr[i] * inv_rms);
    }
  }
}

}  // namespace

void rms_norm(ThreadPool& pool, const Tensor& out, const Tensor& x, const Tensor& weight,
              float eps) {
  const int64_t hidden_size = x.dim(1);
  std::vector<float> weight_f32(static_cast<size_t>(hidden_size));
  convert_to_f32(weight.dtype(), weight.raw(), weight_f32.data(), hidden_size);
  pool.parallel_for(
      x.dim(0),
      [&](int64_t begin, int64_t end) {
        rms_norm_rows(out.data<float>() + begin * hidden_size,
                      x.data<float>() + begin * hidden_size, weight_f32.data(), end - begin,
                      hidden_size, eps);
      },
      min_items_per_chunk(2 * hidden_size));
}

namespace ref {

void rms_norm(const Tensor& out, const Tensor& x, const Tensor& weight, float eps) {
  const int64_t num_tokens = x.dim(0);
  const int64_t hidden_size = x.dim(1);
  for (int64_t t = 0; t < num_tokens; ++t) {
    const float* xr = x.data<float>() + t * hidden_size;
    double sum_sq = 0.0;
    for (int64_t i = 0; i < hidden_size; ++i) {
      sum_sq += static_cast<double>(xr[i]) * xr[i];
    }
    const double inv_rms = 1.0 / std::sqrt(sum_sq / static_cast<double>(hidden_size) + eps);
    for (int64_t i = 0; i < hidden_size; ++i) {
      const double w = element_to_f32(weight.dtype(), weight.raw(), i);
      out.data<float>()[t * hidden_size + i] = static_cast<float>(w * (xr[i] * inv_rms));
    }
  }
}

}  // namespace ref
}  // namespace swiftkv::kernels::cpu
