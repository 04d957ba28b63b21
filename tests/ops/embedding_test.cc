// ops::embedding: both backends copy the exact (converted) table rows; id range checks.
#include "ops/embedding.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "ops/op_test_util.h"

namespace swiftkv::ops {
namespace {

using testing::CpuBackend;

TEST(Embedding, CopiesConvertedRows) {
  uint32_t seed = 50;
  for (const int64_t hidden_size : {1, 64, 100, 4096}) {
    for (const DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      const int64_t vocab_size = 37;
      const Tensor table = testing::random_weight({vocab_size, hidden_size}, dtype, seed++);
      const Tensor table32 = table.to_f32();
      const std::vector<int32_t> id_values = {0, 36, 5, 5, 17, 1, 36};
      const Tensor ids = Tensor::from_i32({7}, id_values);
      Tensor expected = Tensor::empty({7, hidden_size}, DType::kF32);
      for (size_t t = 0; t < id_values.size(); ++t) {
        for (int64_t i = 0; i < hidden_size; ++i) {
          expected.data<float>()[static_cast<int64_t>(t) * hidden_size + i] =
              table32.data<float>()[id_values[t] * hidden_size + i];
        }
      }
      // bf16/f16 -> f32 is exact, so every backend must match exactly.
      const Tensor ref_out = Tensor::empty({7, hidden_size}, DType::kF32);
      embedding(testing::reference_context(), ref_out, table, ids);
      testing::expect_equal(ref_out, expected, testing::case_name("reference", dtype, 1));
      for (const int threads : testing::thread_counts()) {
        CpuBackend cpu(threads);
        const Tensor out = Tensor::empty({7, hidden_size}, DType::kF32);
        embedding(cpu.context(), out, table, ids);
        testing::expect_equal(out, expected, testing::case_name("fast", dtype, threads));
      }
    }
  }
}

TEST(Embedding, RejectsOutOfRangeIdsAndBadShapes) {
  CpuBackend cpu(1);
  const Tensor table = testing::random_normal({10, 4}, 1);
  const Tensor out = Tensor::empty({2, 4}, DType::kF32);
  EXPECT_THROW(embedding(cpu.context(), out, table, Tensor::from_i32({2}, {3, 10})), InternalError);
  EXPECT_THROW(embedding(cpu.context(), out, table, Tensor::from_i32({2}, {-1, 0})), InternalError);
  EXPECT_THROW(embedding(testing::reference_context(), out, table, Tensor::from_i32({2}, {0, 99})),
               InternalError);
  EXPECT_THROW(embedding(cpu.context(), out, table, Tensor::from_i32({3}, {0, 1, 2})),
               InternalError);
  EXPECT_THROW(embedding(cpu.context(), Tensor::empty({2, 5}, DType::kF32), table,
                         Tensor::from_i32({2}, {0, 1})),
               InternalError);
}

}  // namespace
}  // namespace swiftkv::ops
