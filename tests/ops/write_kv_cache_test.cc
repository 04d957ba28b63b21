// ops::write_kv_cache: rows land in their slots (and -1 skips), fast == reference; slot checks.
#include "ops/write_kv_cache.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "ops/op_test_util.h"

namespace swiftkv::ops {
namespace {

using testing::CpuBackend;

TEST(WriteKvCache, WritesSlotsAndSkipsMinusOne) {
  // [num_blocks = 3, block_size = 4, num_kv_heads = 2, head_dim = 5].
  const Shape cache_shape = {3, 4, 2, 5};
  const Tensor k = testing::random_normal({4, 2, 5}, 60);
  const Tensor v = testing::random_normal({4, 2, 5}, 61);
  const Tensor slots = Tensor::from_i32({4}, {9, -1, 0, 11});
  const Tensor k_init = testing::random_normal(cache_shape, 62);
  const Tensor v_init = testing::random_normal(cache_shape, 63);

  const Tensor k_ref = k_init.clone();
  const Tensor v_ref = v_init.clone();
  write_kv_cache(testing::reference_context(), k_ref, v_ref, k, v, slots);
  // Hand check: slot 9 = block 2, offset 1 holds k[0]; slot 0 holds k[2]; slot 11 holds v[3].
  const int64_t row = 2 * 5;
  for (int64_t i = 0; i < row; ++i) {
    EXPECT_EQ(k_ref.data<float>()[9 * row + i], k.data<float>()[0 * row + i]);
    EXPECT_EQ(k_ref.data<float>()[0 * row + i], k.data<float>()[2 * row + i]);
    EXPECT_EQ(v_ref.data<float>()[11 * row + i], v.data<float>()[3 * row + i]);
    EXPECT_EQ(v_ref.data<float>()[1 * row + i], v_init.data<float>()[1 * row + i]);  // untouched
  }
  for (const int threads : testing::thread_counts()) {
    CpuBackend cpu(threads);
    const Tensor k_fast = k_init.clone();
    const Tensor v_fast = v_init.clone();
    write_kv_cache(cpu.context(), k_fast, v_fast, k, v, slots);
    testing::expect_equal(k_fast, k_ref, "k cache threads=" + std::to_string(threads));
    testing::expect_equal(v_fast, v_ref, "v cache threads=" + std::to_string(threads));
  }
}

TEST(WriteKvCache, RejectsBadSlotsAndShapes) {
  CpuBackend cpu(1);
  const Tensor cache = Tensor::zeros({3, 4, 2, 5}, DType::kF32);
  const Tensor cache2 = Tensor::zeros({3, 4, 2, 5}, DType::kF32);
  const Tensor k = testing::random_normal({2, 2, 5}, 1);
  EXPECT_THROW(write_kv_cache(cpu.context(), cache, cache2, k, k, Tensor::from_i32({2}, {0, 12})),
               InternalError);
  EXPECT_THROW(write_kv_cache(cpu.context(), cache, cache2, k, k, Tensor::from_i32({2}, {-2, 0})),
               InternalError);
  const Tensor wrong_heads = testing::random_normal({2, 1, 5}, 2);
  EXPECT_THROW(write_kv_cache(cpu.context(), cache, cache2, wrong_heads, wrong_heads,
                              Tensor::from_i32({2}, {0, 1})),
               InternalError);
  EXPECT_THROW(write_kv_cache(cpu.context(), cache, Tensor::zeros({3, 4, 2, 6}, DType::kF32), k, k,
                              Tensor::from_i32({2}, {0, 1})),
               InternalError);
}

}  // namespace
}  // namespace swiftkv::ops
