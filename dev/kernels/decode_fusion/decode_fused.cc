// decode_fused.h on decode_norm_gemv.cu.
#include "kernels/cuda/decode_fused.h"

#include <cuda_bf16.h>

#include "kernels/cuda/context.h"
#include "kernels/cuda/decode_norm_gemv.h"

namespace swiftkv::cuda {
namespace {

__nv_bfloat16* bf16_or_null(const Tensor& t) {
  return t.defined() ? static_cast<__nv_bfloat16*>(t.raw()) : nullptr;
}

}  // namespace

bool decode_fused_supported(int64_t num_tokens, int64_t hidden_size) {
  return decode_norm_gemv_supported(num_tokens, hidden_size);
}

void decode_norm_gemv(CudaContext& context, const DecodeFusedArgs& args) {
  DecodeNormGemvArgs a{
      .residual = bf16_or_null(args.residual),
      .add = bf16_or_null(args.add),
      .residual_out = bf16_or_null(args.residual_out),
      .norm_weight = bf16_or_null(args.norm_weight),
      .eps = args.eps,
      .w = bf16_or_null(args.w),
      .out = bf16_or_null(args.out),
      .num_tokens = args.residual.dim(0),
      .hidden_size = args.residual.dim(1),
      .out_features = args.w.dim(0),
      .epilogue = args.epilogue == DecodeFusedEpilogue::kRopeKvCache ? DecodeEpilogue::kRopeKvCache
                  : args.epilogue == DecodeFusedEpilogue::kSiluMul   ? DecodeEpilogue::kSiluMul
                                                                     : DecodeEpilogue::kNone};
  if (a.epilogue == DecodeEpilogue::kRopeKvCache) {
    a.num_heads = args.num_heads;
    a.num_kv_heads = args.num_kv_heads;
    a.head_dim = args.head_dim;
    a.positions = args.positions.data<const int32_t>();
    a.inv_freq = args.inv_freq.data<const float>();
    a.k_cache = bf16_or_null(args.k_cache);
    a.v_cache = bf16_or_null(args.v_cache);
    a.slot_mapping =
        args.slot_mapping.defined() ? args.slot_mapping.data<const int32_t>() : nullptr;
  }
  decode_norm_gemv_bf16(context.stream(), a);
}

}  // namespace swiftkv::cuda
