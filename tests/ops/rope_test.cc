// ops::rope: fast vs reference, hand-computed rotations, and argument checks.
#include "ops/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "ops/op_test_util.h"

namespace swiftkv::ops {
namespace {

using testing::CpuBackend;

// Llama-style inverse frequencies 1 / theta^(2i / head_dim), in f32.
Tensor llama_inv_freq(int64_t head_dim, double theta) {
  std::vector<float> values;
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    values.push_back(static_cast<float>(1.0 / std::pow(theta, 2.0 * i / head_dim)));
  }
  return Tensor::from_f32({head_dim / 2}, values);
}

TEST(Rope, FastMatchesReference) {
  const std::vector<Shape> shapes = {{1, 1, 2}, {3, 4, 64}, {5, 3, 100}, {17, 8, 128}, {2, 2, 6}};
  uint32_t seed = 20;
  for (const Shape& shape : shapes) {
    const Tensor x = testing::random_normal(shape, seed++);
    std::vector<int32_t> positions;
    for (int64_t t = 0; t < shape[0]; ++t) {
      positions.push_back(static_cast<int32_t>((t * 7919 + seed) % 131072));  // up to 128K
    }
    const Tensor pos = Tensor::from_i32({shape[0]}, positions);
    const Tensor inv_freq = llama_inv_freq(shape[2], 500000.0);
    const Tensor expected = x.clone();
    rope(testing::reference_context(), expected, pos, inv_freq);
    // Same f32 cos/sin on both sides; the fast rotation a·c - b·s in f32 (maybe one FMA) is
    // within 2u(|a| + |b|) of the exact value, the reference within u: tolerance 4u(|a| + |b|).
    const int64_t head_dim = shape[2];
    const auto tolerance = [&](int64_t i) {
      const int64_t base = i - i % head_dim;
      const int64_t j = i % (head_dim / 2);
      return 4 * testing::kF32Roundoff *
             (std::abs(x.data<float>()[base + j]) +
              std::abs(x.data<float>()[base + j + head_dim / 2]));
    };
    for (const int threads : testing::thread_counts()) {
      CpuBackend cpu(threads);
      const Tensor out = x.clone();
      rope(cpu.context(), out, pos, inv_freq);
      testing::expect_close(out, expected, tolerance,
                            testing::case_name("rope " + shape_str(shape), DType::kF32, threads));
    }
  }
}

TEST(Rope, PositionZeroIsIdentity) {
  const Tensor x = testing::random_normal({2, 3, 16}, 5);
  const Tensor inv_freq = llama_inv_freq(16, 10000.0);
  const Tensor pos = Tensor::from_i32({2}, {0, 0});
  const Tensor ref_out = x.clone();
  rope(testing::reference_context(), ref_out, pos, inv_freq);
  testing::expect_equal(ref_out, x, "reference");  // cos 0 = 1, sin 0 = 0 exactly
  CpuBackend cpu(3);
  const Tensor fast_out = x.clone();
  rope(cpu.context(), fast_out, pos, inv_freq);
  testing::expect_equal(fast_out, x, "fast");
}

TEST(Rope, ReferenceKnownAngle) {
  // head_dim 4: pair (x0, x2) rotates by position · inv_freq[0] = 1 · π/3, pair (x1, x3) by
  // 1 · π/2. cos(π/3) = 1/2, sin(π/3) = √3/2; cos(π/2) = 0, sin(π/2) = 1.
  const Tensor x = Tensor::from_f32({1, 1, 4}, {1, 3, 2, 5});
  const Tensor inv_freq = Tensor::from_f32(
      {2}, {static_cast<float>(std::numbers::pi / 3), static_cast<float>(std::numbers::pi / 2)});
  rope(testing::reference_context(), x, Tensor::from_i32({1}, {1}), inv_freq);
  const double s3 = std::sqrt(3.0) / 2;
  const Tensor expected = Tensor::from_f32(
      {1, 1, 4}, {static_cast<float>(0.5 - 2 * s3), -5.0F, static_cast<float>(2 * 0.5 + s3), 3.0F});
  // The angles are f32-rounded (relative error u) and so are cos/sin: 1e-6 absolute on O(1)
  // values.
  testing::expect_close(
      x, expected, [](int64_t) { return 1e-6; }, "known angle");
}

TEST(Rope, RejectsBadShapes) {
  CpuBackend cpu(1);
  const Tensor pos = Tensor::from_i32({2}, {0, 1});
  EXPECT_THROW(rope(cpu.context(), testing::random_normal({2, 1, 5}, 1), pos,
                    testing::random_normal({2}, 2)),
               InternalError);  // odd head_dim
  EXPECT_THROW(rope(cpu.context(), testing::random_normal({2, 1, 8}, 1), pos,
                    testing::random_normal({3}, 2)),
               InternalError);  // inv_freq of the wrong size
  EXPECT_THROW(rope(cpu.context(), testing::random_normal({3, 1, 8}, 1), pos,
                    testing::random_normal({4}, 2)),
               InternalError);  // positions of the wrong size
}

}  // namespace
}  // namespace swiftkv::ops
