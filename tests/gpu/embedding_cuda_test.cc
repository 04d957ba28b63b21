// CUDA embedding gather against the CPU reference.
#include <gtest/gtest.h>

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

template <typename E>
void run_embedding(int64_t hidden) {
  SCOPED_TRACE(hidden);
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

  cuda::Stream stream;
  const cuda::DeviceBuffer d_table = to_device(table, stream.get());
  const cuda::DeviceBuffer d_ids = to_device(ids, stream.get());
  const cuda::DeviceBuffer d_out =
      to_device(std::vector<Bits>(static_cast<size_t>(tokens * hidden), E::kPoison), stream.get());
  if constexpr (std::is_same_v<E, testing::F32Elem>) {
    cuda::embedding_f32(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_table), d_ids.as<int32_t>(),
                        tokens, hidden);
  } else {
    cuda::embedding_bf16(stream.get(), elem_ptr<E>(d_out), elem_ptr<E>(d_table),
                         d_ids.as<int32_t>(), tokens, hidden);
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

TEST(CudaEmbedding, F32MatchesCpuReferenceExactly) {
  for (const int64_t hidden : {4096, 64, 13}) {  // 13: the scalar path
    run_embedding<testing::F32Elem>(hidden);
  }
}

}  // namespace
}  // namespace swiftkv
