// ops::gather_rows: exact row copies on both backends; index range checks. ops::copy_tokens:
// indexed token copies, range checks.
#include "ops/gather_rows.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "ops/op_test_util.h"

namespace swiftkv::ops {
namespace {

using testing::CpuBackend;

TEST(GatherRows, CopiesSelectedRows) {
  for (const int64_t row_size : {1, 64, 100}) {
    const Tensor x = testing::random_normal({9, row_size}, 80);
    const std::vector<int32_t> picks = {8, 0, 3, 3, 7};
    const Tensor indices = Tensor::from_i32({5}, picks);
    Tensor expected = Tensor::empty({5, row_size}, DType::kF32);
    for (size_t i = 0; i < picks.size(); ++i) {
      for (int64_t j = 0; j < row_size; ++j) {
        expected.data<float>()[static_cast<int64_t>(i) * row_size + j] =
            x.data<float>()[picks[i] * row_size + j];
      }
    }
    const Tensor ref_out = Tensor::empty({5, row_size}, DType::kF32);
    gather_rows(testing::reference_context(), ref_out, x, indices);
    testing::expect_equal(ref_out, expected, "reference");
    for (const int threads : testing::thread_counts()) {
      CpuBackend cpu(threads);
      const Tensor out = Tensor::empty({5, row_size}, DType::kF32);
      gather_rows(cpu.context(), out, x, indices);
      testing::expect_equal(out, expected, "fast threads=" + std::to_string(threads));
    }
  }
}

TEST(GatherRows, RejectsOutOfRangeIndices) {
  CpuBackend cpu(1);
  const Tensor x = testing::random_normal({4, 3}, 1);
  const Tensor out = Tensor::empty({2, 3}, DType::kF32);
  EXPECT_THROW(gather_rows(cpu.context(), out, x, Tensor::from_i32({2}, {0, 4})), InternalError);
  EXPECT_THROW(gather_rows(cpu.context(), out, x, Tensor::from_i32({2}, {-1, 0})), InternalError);
  EXPECT_THROW(gather_rows(cpu.context(), Tensor::empty({2, 4}, DType::kF32), x,
                           Tensor::from_i32({2}, {0, 1})),
               InternalError);
}

TEST(CopyTokens, CopiesIndexedTokensAndChecksRanges) {
  CpuBackend cpu(1);
  const Tensor ids = Tensor::from_i32({6}, {10, 11, 12, 13, 14, 15});
  const Tensor source = Tensor::from_i32({3}, {90, 91, 92});
  copy_tokens(cpu.context(), ids, source, Tensor::from_i32({2, 2}, {5, 0, 1, 2}));
  EXPECT_EQ(std::vector<int32_t>(ids.data<int32_t>(), ids.data<int32_t>() + 6),
            (std::vector<int32_t>{10, 92, 12, 13, 14, 90}));
  EXPECT_THROW(copy_tokens(cpu.context(), ids, source, Tensor::from_i32({1, 2}, {6, 0})),
               InternalError);
  EXPECT_THROW(copy_tokens(cpu.context(), ids, source, Tensor::from_i32({1, 2}, {0, 3})),
               InternalError);
  EXPECT_THROW(copy_tokens(cpu.context(), ids, source, Tensor::from_i32({2}, {0, 0})),
               InternalError);
}

}  // namespace
}  // namespace swiftkv::ops
