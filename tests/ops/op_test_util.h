// Helpers for the op tests: seeded random tensors, backend contexts, tolerance comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/thread_pool.h"
#include "ops/context.h"

namespace swiftkv::ops::testing {

// Unit roundoff of f32 (2^-24).
inline constexpr double kF32Roundoff = 5.9604644775390625e-8;

// f32 tensor of N(0, stddev^2) values from mt19937(seed); exact zeros are redrawn.
inline Tensor random_normal(const Shape& shape, uint32_t seed, float stddev = 1.0F) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0F, stddev);
  Tensor t = Tensor::empty(shape, DType::kF32);
  for (int64_t i = 0; i < t.numel(); ++i) {
    float value = 0.0F;
    while (value == 0.0F) {
      value = normal(rng);
    }
    t.data<float>()[i] = value;
  }
  return t;
}

// Random normal weights stored as `dtype` (rounded to nearest even from f32).
inline Tensor random_weight(const Shape& shape, DType dtype, uint32_t seed, float stddev = 1.0F) {
  return random_normal(shape, seed, stddev).to_dtype(dtype);
}

inline Context reference_context() { return Context{Backend::kReference, nullptr}; }

// A kCpu context owning its pool.
struct CpuBackend {
  explicit CpuBackend(int num_threads) : pool(num_threads) {}
  Context context() { return Context{Backend::kCpu, &pool}; }
  ThreadPool pool;
};

// The thread counts every fast kernel is tested with (3 > cores on small CI machines is fine).
inline const std::vector<int>& thread_counts() {
  static const std::vector<int> counts = {1, 3};
  return counts;
}

// Expects |actual[i] - expected[i]| <= tolerance(i) for every element (both f32, same shape);
// reports the number of failures and the first few.
inline void expect_close(const Tensor& actual, const Tensor& expected,
                         const std::function<double(int64_t)>& tolerance,
                         const std::string& label) {
  ASSERT_EQ(actual.shape(), expected.shape()) << label;
  int64_t failures = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const double a = actual.data<float>()[i];
    const double e = expected.data<float>()[i];
    const double tol = tolerance(i);
    if (!(std::abs(a - e) <= tol)) {
      if (++failures <= 5) {
        ADD_FAILURE() << label << ": element " << i << " is " << a << ", expected " << e
                      << " (tolerance " << tol << ")";
      }
    }
  }
  EXPECT_EQ(failures, 0) << label << ": " << failures << " of " << actual.numel()
                         << " elements out of tolerance";
}

// Exact equality of two f32 tensors.
inline void expect_equal(const Tensor& actual, const Tensor& expected, const std::string& label) {
  ASSERT_EQ(actual.shape(), expected.shape()) << label;
  ASSERT_EQ(actual.dtype(), expected.dtype()) << label;
  int64_t failures = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    if (actual.data<float>()[i] != expected.data<float>()[i] && ++failures <= 5) {
      ADD_FAILURE() << label << ": element " << i << " is " << actual.data<float>()[i]
                    << ", expected " << expected.data<float>()[i];
    }
  }
  EXPECT_EQ(failures, 0) << label;
}

inline std::string case_name(const std::string& what, DType dtype, int num_threads) {
  return what + " " + std::string(dtype_name(dtype)) + " threads=" + std::to_string(num_threads);
}

}  // namespace swiftkv::ops::testing
