// The lm_head on selected rows: gather + cuBLASLt GEMM with f32 logits, against the CPU
// reference linear layer on the selected rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/linear.h"
#include "kernels/cuda/lm_head.h"

namespace swiftkv {
namespace {

using testing::elem_ptr;
using testing::to_device;
using testing::to_host;

void launch(cuda::CublasLt& blas, cudaStream_t stream, const cuda::LmHeadArgs& args) {
  cuda::lm_head_bf16(blas, stream, args);
}
void launch(cuda::CublasLt& blas, cudaStream_t stream, const cuda::LmHeadArgsT<float>& args) {
  cuda::lm_head_f32(blas, stream, args);
}

template <typename E>
void run_lm_head() {
  using Bits = typename E::Bits;
  const int64_t tokens = 40;
  const int64_t hidden = 256;
  const int64_t vocab = 3001;  // odd
  std::mt19937 rng(17);
  const std::vector<Bits> states =
      testing::random_elems<E>(static_cast<size_t>(tokens * hidden), rng);
  const std::vector<Bits> weight =
      testing::random_elems<E>(static_cast<size_t>(vocab * hidden), rng, 0.05F);
  const std::vector<int32_t> selected = {39, 0, 17, 18, 5};  // last tokens of 5 requests
  const auto num_selected = static_cast<int64_t>(selected.size());
  std::vector<Bits> gathered;
  for (const int32_t row : selected) {
    gathered.insert(gathered.end(), states.begin() + row * hidden,
                    states.begin() + (row + 1) * hidden);
  }
  const Tensor expected = Tensor::empty({num_selected, vocab}, DType::kF32);
  kernels::cpu::ref::linear(expected,
                            testing::elem_tensor<E>({num_selected, hidden}, gathered).to_f32(),
                            testing::elem_tensor<E>({vocab, hidden}, weight));

  cuda::CublasLt blas;
  cuda::Stream stream;
  const cuda::DeviceBuffer d_states = to_device(states, stream.get());
  const cuda::DeviceBuffer d_weight = to_device(weight, stream.get());
  const cuda::DeviceBuffer d_selected = to_device(selected, stream.get());
  const cuda::DeviceBuffer d_scratch(static_cast<size_t>(num_selected * hidden) * sizeof(Bits));
  const cuda::DeviceBuffer d_logits(static_cast<size_t>(num_selected * vocab) * sizeof(float));
  launch(blas, stream.get(),
         cuda::LmHeadArgsT<typename E::Device>{.logits = d_logits.as<float>(),
                                               .hidden = elem_ptr<E>(d_states),
                                               .selected = d_selected.as<int32_t>(),
                                               .weight = elem_ptr<E>(d_weight),
                                               .scratch = elem_ptr<E>(d_scratch),
                                               .num_selected = num_selected,
                                               .hidden_size = hidden,
                                               .vocab_size = vocab});
  const std::vector<float> logits =
      to_host<float>(d_logits, static_cast<size_t>(num_selected * vocab), stream.get());
  for (int64_t r = 0; r < num_selected; ++r) {
    for (int64_t v = 0; v < vocab; ++v) {
      double magnitude = 0.0;
      for (int64_t i = 0; i < hidden; ++i) {
        magnitude +=
            std::abs(static_cast<double>(E::to_f32(gathered[static_cast<size_t>(r * hidden + i)])) *
                     E::to_f32(weight[static_cast<size_t>(v * hidden + i)]));
      }
      // f32 output, f32 accumulation over `hidden` terms in any order (bf16 products are exact
      // in f32; f32 products round once more: hidden + 1 roundings at most).
      const double e = expected.data<float>()[r * vocab + v];
      ASSERT_NEAR(logits[static_cast<size_t>(r * vocab + v)], e,
                  static_cast<double>(hidden + 1) * 0x1p-24 * magnitude + 0x1p-24 * std::abs(e))
          << "row " << r << " token " << v;
    }
  }
}

TEST(CudaLmHead, SelectedRowsMatchCpuReference) { run_lm_head<testing::Bf16Elem>(); }

TEST(CudaLmHead, F32SelectedRowsMatchCpuReference) { run_lm_head<testing::F32Elem>(); }

}  // namespace
}  // namespace swiftkv
