// Reference linear layer: out[t, n] = sum_k x[t, k] * w[n, k], accumulated in f64.
#include <vector>

#include "kernels/cpu/convert.h"
#include "kernels/cpu/linear.h"

namespace swiftkv::kernels::cpu::ref {

void linear(const Tensor& out, const Tensor& x, const Tensor& w) {
  const int64_t num_tokens = x.dim(0);
  const int64_t in_features = x.dim(1);
  const int64_t out_features = w.dim(0);
  std::vector<double> w_row(static_cast<size_t>(in_features));
  for (int64_t n = 0; n < out_features; ++n) {
    for (int64_t k = 0; k < in_features; ++k) {
      w_row[static_cast<size_t>(k)] = element_to_f32(w.dtype(), w.raw(), n * in_features + k);
    }
    for (int64_t t = 0; t < num_tokens; ++t) {
      const float* xt = x.data<float>() + t * in_features;
      double acc = 0.0;
      for (int64_t k = 0; k < in_features; ++k) {
        acc += static_cast<double>(xt[k]) * w_row[static_cast<size_t>(k)];
      }
      out.data<float>()[t * out_features + n] = static_cast<float>(acc);
    }
  }
}

}  // namespace swiftkv::kernels::cpu::ref
