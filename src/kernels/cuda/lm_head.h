// The language-model head on the rows that need logits only (the last token of each finished
// prompt, decode tokens): gather those rows of the final hidden states, then one GEMM with f32
// logits for the sampler.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/gemm.h"

namespace swiftkv::cuda {

// T: the model's element type (__nv_bfloat16, or float for the f32 model: a true f32 GEMM).
template <typename T>
struct LmHeadArgsT {
  float* logits = nullptr;            // [num_selected, vocab_size] f32
  const T* hidden = nullptr;          // [num_tokens, hidden_size] (already normed)
  const int32_t* selected = nullptr;  // [num_selected] i32 rows of hidden, or null = the
                                      // first num_selected rows (no gather)
  const T* weight = nullptr;          // [vocab_size, hidden_size]
  T* scratch = nullptr;               // [num_selected, hidden_size], for the gather
  int64_t num_selected = 0;
  int64_t hidden_size = 0;
  int64_t vocab_size = 0;
};
using LmHeadArgs = LmHeadArgsT<__nv_bfloat16>;

// Cost: 2 · num_selected · hidden_size · vocab_size flops; at decode sizes it streams the
// weight once (vocab_size · hidden_size · sizeof(T) bytes).
void lm_head_bf16(CublasLt& blas, cudaStream_t stream, const LmHeadArgs& args);
void lm_head_f32(CublasLt& blas, cudaStream_t stream, const LmHeadArgsT<float>& args);

}  // namespace swiftkv::cuda
