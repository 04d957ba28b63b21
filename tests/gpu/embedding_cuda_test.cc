// CUDA embedding gather against the CPU reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <type_traits>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cuda/embedding.h"

namespace swiftkv {
namespace {

using testing::elem_ptr;
using testing::to_device;
using testing::to_host;

// The table is the vocabulary shard [first_row, first_row + shard_rows) of a 1000-token
// vocabulary (the whole table by default); ids outside it must give zero rows.
template <typename E>
void run_embedding(int64_t hidden, int64_t first_row = 0, int64_t shard_rows = 1000) {
  SCOPED_TRACE(::testing::Message() << hidden << " rows " << first_row << "+" << shard_rows);
  using Bits = typename E::Bits;
  const int64_t vocab = 1000;
  const int64_t tokens = 67;
  std::mt19937 rng(static_cast<uint32_t>(hidden));
  const auto table = testing::random_elems<E>(static_cast<size_t>(vocab * hidden), rng);
  std::uniform_int_distribution<int32_t> id_distribution(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  for (int32_t& id : ids) {
    id = id_distribution(rng);
  }
  ids[0] = 0;
  ids[1] = static_cast<int32_t>(vocab - 1);
  const Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
  kernels::cpu::ref::embedding(expected, testing::elem_tensor<E>({vocab, hidden}, table),
                               testing::i32_tensor({tokens}, ids));
  for (int64_t t = 0; t < tokens; ++t) {
    if (ids[static_cast<size_t>(t)] < first_row ||
        ids[static_cast<size_t>(t)] >= first_row + shard_rows) {
      std::fill_n(expected.data<float>() + t * hidden, hidden, 0.0F);
    }
  }
  const std::vector<Bits> shard(table.begin() + first_row * hidden,
                                table.begin() + (first_row + shard_rows) * hidden);

  cuda::Stream stream;
  const cuda::DeviceBuffer d_table = to_device(shard, stream.get());
  const cuda::DeviceBuffer d_ids = to_device(ids, stream.get());
  const cuda::DeviceBuffer d_out =
      to_device(std::vector<Bits>(static_cast<size_t>(tokens * hidden), E::kPoison), stream.get());
  if constexpr (std::is_same_v<E, testing::F32Elem>) {
    cuda::embedding_f32(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_table), d_ids.as<int32_t>(),
                        tokens, hidden, first_row, shard_rows);
  } else {
    cuda::embedding_bf16(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_table),
                         d_ids.as<int32_t>(), tokens, hidden, first_row, shard_rows);
  }
  const std::vector<Bits> out =
      to_host<Bits>(d_out, static_cast<size_t>(tokens * hidden), stream.get());
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_EQ(E::to_f32(out[i]), expected.data<float>()[i]) << i;  // a copy: exact
  }
}

TEST(CudaEmbedding, MatchesCpuReferenceExactly) {
  for (const int64_t hidden : {4096, 72, 13}) {  // 13: the scalar path
    run_embedding<testing::Bf16Elem>(hidden);
  }
}

// A vocabulary shard (tensor parallelism): rows of other ranks' tokens are zero.
TEST(CudaEmbedding, VocabularyShardGivesZeroRowsForOtherTokens) {
  for (const int64_t hidden : {4096, 13}) {
    run_embedding<testing::Bf16Elem>(hidden, 0, 334);
    run_embedding<testing::Bf16Elem>(hidden, 334, 334);
    run_embedding<testing::Bf16Elem>(hidden, 668, 332);
    run_embedding<testing::F32Elem>(hidden, 500, 500);
  }
}

TEST(CudaEmbedding, F32MatchesCpuReferenceExactly) {
  for (const int64_t hidden : {4096, 64, 13}) {  // 13: the scalar path
    run_embedding<testing::F32Elem>(hidden);
  }
}

}  // namespace
}  // namespace swiftkv
