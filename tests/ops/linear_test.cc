// ops::linear: fast CPU kernel (GEMV for <= 4 tokens, blocked sgemm above) vs the f64 reference.
#include "ops/linear.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "ops/op_test_util.h"

namespace swiftkv::ops {
namespace {

using testing::CpuBackend;

struct LinearShape {
  int64_t num_tokens;
  int64_t in_features;
  int64_t out_features;
};

// Σ_k |x[t, k] w[n, k]| for every output: the scale of the rounding error of a dot product.
Tensor abs_dot(const Tensor& x, const Tensor& w) {
  const Tensor w32 = w.to_f32();
  const int64_t m = x.dim(0);
  const int64_t k = x.dim(1);
  const int64_t n = w.dim(0);
  Tensor out = Tensor::empty({m, n}, DType::kF32);
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t i = 0; i < k; ++i) {
        s += std::abs(static_cast<double>(x.data<float>()[t * k + i]) *
                      w32.data<float>()[j * k + i]);
      }
      out.data<float>()[t * n + j] = static_cast<float>(s);
    }
  }
  return out;
}

TEST(Linear, FastMatchesReference) {
  // Up to 64 tokens (fewer for large in_features) take the tiled kernel, in groups of 4 tokens
  // (so 5, 17 and 9 leave partial groups); more take sgemm, as do 14 tokens with in_features
  // 20000. Odd sizes hit every vector and tile tail; in_features 4096 gives 64-row conversion
  // blocks, so 130 rows span several blocks on one thread.
  const std::vector<LinearShape> shapes = {{1, 64, 64},    {2, 100, 37},    {3, 4096, 67},
                                           {4, 33, 129},   {5, 100, 300},   {17, 4096, 300},
                                           {64, 256, 96},  {1, 4096, 256},  {9, 7, 5},
                                           {70, 100, 150}, {80, 4096, 130}, {14, 20000, 40}};
  uint32_t seed = 1;
  for (const LinearShape& s : shapes) {
    const Tensor x = testing::random_normal({s.num_tokens, s.in_features}, seed++);
    for (const DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      const Tensor w = testing::random_weight({s.out_features, s.in_features}, dtype, seed++);
      const Tensor expected = Tensor::empty({s.num_tokens, s.out_features}, DType::kF32);
      linear(testing::reference_context(), expected, x, w);
      // Both paths see the same (exactly converted) weights, so the only difference is f32
      // accumulation in another order against the f64 reference: in practice within
      // ~sqrt(K)·u·Σ|x w| (3.8e-6·Σ|x w| for K = 4096; the rigorous worst case is K·u).
      const Tensor scale = abs_dot(x, w);
      for (const int threads : testing::thread_counts()) {
        CpuBackend cpu(threads);
        const Tensor out = Tensor::empty({s.num_tokens, s.out_features}, DType::kF32);
        linear(cpu.context(), out, x, w);
        testing::expect_close(
            out, expected, [&](int64_t i) { return 1e-5 * scale.data<float>()[i]; },
            testing::case_name("linear [" + std::to_string(s.num_tokens) + "x" +
                                   std::to_string(s.in_features) + "]x[" +
                                   std::to_string(s.out_features) + "]",
                               dtype, threads));
      }
    }
  }
}

TEST(Linear, ReferenceHandComputed) {
  // [1 2; 3 4] · [[1 0], [0 1], [1 1]]ᵀ = [[1 2 3]; [3 4 7]].
  const Tensor x = Tensor::from_f32({2, 2}, {1, 2, 3, 4});
  const Tensor w = Tensor::from_f32({3, 2}, {1, 0, 0, 1, 1, 1});
  const Tensor out = Tensor::empty({2, 3}, DType::kF32);
  linear(testing::reference_context(), out, x, w);
  testing::expect_equal(out, Tensor::from_f32({2, 3}, {1, 2, 3, 3, 4, 7}), "hand-computed");
}

TEST(Linear, RejectsBadShapesAndDtypes) {
  CpuBackend cpu(1);
  const Tensor x = testing::random_normal({2, 8}, 1);
  const Tensor out = Tensor::empty({2, 4}, DType::kF32);
  EXPECT_THROW(linear(cpu.context(), out, x, testing::random_normal({4, 7}, 2)), InternalError);
  EXPECT_THROW(linear(cpu.context(), Tensor::empty({2, 5}, DType::kF32), x,
                      testing::random_normal({4, 8}, 2)),
               InternalError);
  EXPECT_THROW(linear(cpu.context(), out, x, Tensor::zeros({4, 8}, DType::kI32)), InternalError);
  EXPECT_THROW(
      linear(cpu.context(), out, x.to_dtype(DType::kBF16), testing::random_normal({4, 8}, 2)),
      InternalError);
  // out aliasing x.
  const Tensor square = testing::random_normal({2, 2}, 3);
  EXPECT_THROW(linear(cpu.context(), square, square, testing::random_normal({2, 2}, 4)),
               InternalError);
}

}  // namespace
}  // namespace swiftkv::ops
