// The decode-shaped fused projections (decode_norm_gemv.h) as src/ops sees them: plain C++ on
// device tensors already checked by the op (ops/decode_fused.h). Built from decode_fused.cc with
// SWIFTKV_CUDA, otherwise from decode_fused_stub.cc (reports the backend missing).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace swiftkv::cuda {

class CudaContext;

// Whether the fused kernel takes num_tokens rows of hidden_size (false without the backend).
bool decode_fused_supported(int64_t num_tokens, int64_t hidden_size);

enum class DecodeFusedEpilogue { kRopeKvCache, kSiluMul, kNone };

struct DecodeFusedArgs {
  Tensor out{};  // qkv or y [num_tokens, out_features], or act [num_tokens, out_features / 2]
  Tensor residual_out{};  // [num_tokens, hidden_size]; undefined with norm_weight (no norm)
  Tensor residual{};      // [num_tokens, hidden_size]: the input rows
  Tensor add{};           // [num_tokens, hidden_size] or undefined
  Tensor norm_weight{};   // [hidden_size] or undefined (x = residual)
  float eps = 0.0F;
  Tensor w{};  // [out_features, hidden_size] bf16
  DecodeFusedEpilogue epilogue = DecodeFusedEpilogue::kNone;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  Tensor positions{};
  Tensor inv_freq{};
  Tensor k_cache{};  // undefined: no cache write
  Tensor v_cache{};
  Tensor slot_mapping{};
};
void decode_norm_gemv(CudaContext& context, const DecodeFusedArgs& args);

}  // namespace swiftkv::cuda
