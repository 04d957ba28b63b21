// CUDA embedding gather against the CPU reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cuda/embedding.h"

namespace swiftkv {
namespace {

using testing::bf16_ptr;
using testing::to_device;
using testing::to_host;

TEST(CudaEmbedding, MatchesCpuReferenceExactly) {
  for (const int64_t hidden : {4096, 72, 13}) {  // 13: the scalar path
    SCOPED_TRACE(hidden);
    const int64_t vocab = 1000;
    const int64_t tokens = 67;
    std::mt19937 rng(static_cast<uint32_t>(hidden));
    const std::vector<uint16_t> table =
        testing::random_bf16(static_cast<size_t>(vocab * hidden), rng);
    std::uniform_int_distribution<int32_t> id_distribution(0, static_cast<int32_t>(vocab - 1));
    std::vector<int32_t> ids(static_cast<size_t>(tokens));
    for (int32_t& id : ids) {
      id = id_distribution(rng);
    }
    ids[0] = 0;
    ids[1] = static_cast<int32_t>(vocab - 1);
    const Tensor expected = Tensor::empty({tokens, hidden}, DType::kF32);
    kernels::cpu::ref::embedding(expected, testing::bf16_tensor({vocab, hidden}, table),
                                 testing::i32_tensor({tokens}, ids));

    cuda::Stream stream;
    const cuda::DeviceBuffer d_table = to_device(table, stream.get());
    const cuda::DeviceBuffer d_ids = to_device(ids, stream.get());
    const cuda::DeviceBuffer d_out =
        to_device(std::vector<uint16_t>(static_cast<size_t>(tokens * hidden), testing::kPoisonBf16),
                  stream.get());
    cuda::embedding_bf16(stream.get(), bf16_ptr(d_out), bf16_ptr(d_table), d_ids.as<int32_t>(),
                         tokens, hidden);
    const std::vector<uint16_t> out =
        to_host<uint16_t>(d_out, static_cast<size_t>(tokens * hidden), stream.get());
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_EQ(bf16_to_f32(out[i]), expected.data<float>()[i]) << i;  // a copy: exact
    }
  }
}

}  // namespace
}  // namespace swiftkv
