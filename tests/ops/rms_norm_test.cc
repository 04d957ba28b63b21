// ops::rms_norm: fast vs reference, a hand-computed case, and argument checks.
#include "ops/rms_norm.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "ops/op_test_util.h"

namespace swiftkv::ops {
namespace {

using testing::CpuBackend;

TEST(RmsNorm, FastMatchesReference) {
  const std::vector<Shape> shapes = {{1, 64}, {3, 100}, {5, 4096}, {2, 1}, {7, 17}};
  uint32_t seed = 10;
  for (const Shape& shape : shapes) {
    const Tensor x = testing::random_normal(shape, seed++, 3.0F);
    for (const DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      const Tensor weight = testing::random_weight({shape[1]}, dtype, seed++);
      const Tensor expected = Tensor::empty(shape, DType::kF32);
      rms_norm(testing::reference_context(), expected, x, weight, 1e-5F);
      // out = x·r·w is a product, so errors are relative per element: the f32 sum of squares
      // (16-lane partial sums, chains of hidden/64) is within ~hidden/64·u, r adds ~2u, the two
      // products 2u: < 1e-6 for hidden <= 4096; 1e-5 leaves room for the sqrt/division.
      for (const int threads : testing::thread_counts()) {
        CpuBackend cpu(threads);
        const Tensor out = Tensor::empty(shape, DType::kF32);
        rms_norm(cpu.context(), out, x, weight, 1e-5F);
        const auto tolerance = [&](int64_t i) {
          return 1e-5 * std::abs(expected.data<float>()[i]);
        };
        testing::expect_close(out, expected, tolerance,
                              testing::case_name("rms_norm " + shape_str(shape), dtype, threads));
        // In place (out aliases x) gives the same result.
        const Tensor in_place = x.clone();
        rms_norm(cpu.context(), in_place, in_place, weight, 1e-5F);
        testing::expect_equal(in_place, out, "in place " + shape_str(shape));
      }
    }
  }
}

TEST(RmsNorm, ReferenceHandComputed) {
  // x = [1, 7, 1, 7]: mean(x^2) = 25, rms = 5; eps = 0.
  const Tensor x = Tensor::from_f32({1, 4}, {1, 7, 1, 7});
  const Tensor weight = Tensor::from_f32({4}, {1, 2, 0.5, -1});
  const Tensor out = Tensor::empty({1, 4}, DType::kF32);
  rms_norm(testing::reference_context(), out, x, weight, 0.0F);
  const Tensor expected = Tensor::from_f32({1, 4}, {0.2F, 2.8F, 0.1F, -1.4F});
  // The f64 result rounded once, compared with the f32-rounded constants: within 2u relative.
  testing::expect_close(
      out, expected,
      [&](int64_t i) { return 2 * testing::kF32Roundoff * std::abs(expected.data<float>()[i]); },
      "hand-computed");
}

TEST(RmsNorm, RejectsBadShapes) {
  CpuBackend cpu(1);
  const Tensor x = testing::random_normal({2, 8}, 1);
  EXPECT_THROW(rms_norm(cpu.context(), Tensor::empty({2, 8}, DType::kF32), x,
                        testing::random_normal({7}, 2), 1e-5F),
               InternalError);
  EXPECT_THROW(rms_norm(cpu.context(), Tensor::empty({2, 9}, DType::kF32), x,
                        testing::random_normal({8}, 2), 1e-5F),
               InternalError);
  EXPECT_THROW(rms_norm(cpu.context(), Tensor::empty({16}, DType::kF32), x.reshape({16}),
                        testing::random_normal({16}, 2), 1e-5F),
               InternalError);
}

}  // namespace
}  // namespace swiftkv::ops
