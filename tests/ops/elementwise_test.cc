// ops::add_inplace and ops::silu_mul: fast vs reference, hand-computed values, checks.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "ops/add_inplace.h"
#include "ops/op_test_util.h"
#include "ops/silu_mul.h"

namespace swiftkv::ops {
namespace {

using testing::CpuBackend;

const std::vector<Shape>& elementwise_shapes() {
  static const std::vector<Shape> shapes = {{1, 64}, {3, 100}, {5, 4096}, {7, 17}, {1, 1}};
  return shapes;
}

TEST(AddInplace, FastMatchesReference) {
  uint32_t seed = 30;
  for (const Shape& shape : elementwise_shapes()) {
    const Tensor x = testing::random_normal(shape, seed++);
    const Tensor y = testing::random_normal(shape, seed++);
    const Tensor expected = x.clone();
    add_inplace(testing::reference_context(), expected, y);
    for (const int threads : testing::thread_counts()) {
      CpuBackend cpu(threads);
      const Tensor out = x.clone();
      add_inplace(cpu.context(), out, y);
      // One f32 addition per element on both sides: bit-identical.
      testing::expect_equal(out, expected,
                            testing::case_name("add " + shape_str(shape), DType::kF32, threads));
    }
  }
  const Tensor x = Tensor::from_f32({3}, {1, 2, 3});
  add_inplace(testing::reference_context(), x, Tensor::from_f32({3}, {0.5, -2, 4}));
  testing::expect_equal(x, Tensor::from_f32({3}, {1.5, 0, 7}), "hand-computed");
}

TEST(SiluMul, FastMatchesReference) {
  uint32_t seed = 40;
  for (const Shape& shape : elementwise_shapes()) {
    const Tensor gate = testing::random_normal(shape, seed++, 3.0F);
    const Tensor up = testing::random_normal(shape, seed++);
    const Tensor expected = Tensor::empty(shape, DType::kF32);
    silu_mul(testing::reference_context(), expected, gate, up);
    // f32: expf (< 1 ulp), 1 + e, the division and the product each round once and nothing
    // cancels, so the result is within ~5u relative of the f64 reference; 1e-6 = 16u.
    for (const int threads : testing::thread_counts()) {
      CpuBackend cpu(threads);
      const Tensor out = Tensor::empty(shape, DType::kF32);
      silu_mul(cpu.context(), out, gate, up);
      testing::expect_close(
          out, expected, [&](int64_t i) { return 1e-6 * std::abs(expected.data<float>()[i]); },
          testing::case_name("silu_mul " + shape_str(shape), DType::kF32, threads));
    }
  }
}

TEST(SiluMul, OutMayAliasAnInput) {
  const Tensor gate = testing::random_normal({3, 100}, 45);
  const Tensor up = testing::random_normal({3, 100}, 46);
  for (const int threads : testing::thread_counts()) {
    CpuBackend cpu(threads);
    const Tensor expected = Tensor::empty({3, 100}, DType::kF32);
    silu_mul(cpu.context(), expected, gate, up);
    const Tensor into_gate = gate.clone();
    silu_mul(cpu.context(), into_gate, into_gate, up);
    testing::expect_equal(into_gate, expected, "out = gate");
    const Tensor into_up = up.clone();
    silu_mul(cpu.context(), into_up, gate, into_up);
    testing::expect_equal(into_up, expected, "out = up");
  }
}

TEST(SiluMul, ReferenceHandComputed) {
  // silu(0) = 0; silu(ln 3) = ln 3 · 3/4; silu(-ln 3) = -ln 3 / 4.
  const double ln3 = std::log(3.0);
  const Tensor gate =
      Tensor::from_f32({1, 3}, {0.0F, static_cast<float>(ln3), static_cast<float>(-ln3)});
  const Tensor up = Tensor::from_f32({1, 3}, {5, 2, 1});
  const Tensor out = Tensor::empty({1, 3}, DType::kF32);
  silu_mul(testing::reference_context(), out, gate, up);
  const Tensor expected = Tensor::from_f32(
      {1, 3}, {0.0F, static_cast<float>(ln3 * 0.75 * 2), static_cast<float>(-ln3 / 4)});
  // ln 3 is f32-rounded in the input (u relative); the function is smooth, so 4u relative.
  testing::expect_close(
      out, expected,
      [&](int64_t i) { return 4 * testing::kF32Roundoff * std::abs(expected.data<float>()[i]); },
      "hand-computed");
}

TEST(Elementwise, RejectsShapeMismatch) {
  CpuBackend cpu(1);
  EXPECT_THROW(add_inplace(cpu.context(), testing::random_normal({2, 3}, 1),
                           testing::random_normal({3, 2}, 2)),
               InternalError);
  EXPECT_THROW(silu_mul(cpu.context(), Tensor::empty({2, 3}, DType::kF32),
                        testing::random_normal({2, 3}, 1), testing::random_normal({2, 4}, 2)),
               InternalError);
}

}  // namespace
}  // namespace swiftkv::ops
