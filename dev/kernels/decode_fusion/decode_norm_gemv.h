// Decode-shaped (at most 8 rows) fused projections on CUDA: [residual add +] RMSNorm in the
// prologue, a GEMV over bf16 weights, and the next small op in the epilogue, so a decoder layer
// at batch 1 needs two launches fewer per projection (dev/kernels/NOTES.md, "batch-1 decode").
// bf16 in/out, f32 accumulation. Contracts: the unfused ops they replace (ops/decode_fused.h).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

constexpr int64_t kDecodeGemvMaxTokens = 8;

enum class DecodeEpilogue {
  // out = qkv [num_tokens, (num_heads + 2 num_kv_heads) head_dim]: q and k rotated (rotate-half
  // RoPE as rope_kv_cache.h), k and v also written to the paged cache at slot_mapping (-1 skips;
  // no write when k_cache is null).
  kRopeKvCache,
  // out = act [num_tokens, out_features / 2]: silu(gate) * up of the [gate; up] rows (silu_mul.h).
  kSiluMul,
  // out [num_tokens, out_features]: the projection as is (with norm_weight null: a plain GEMV
  // whose weight loads overlap the previous kernel).
  kNone,
};

struct DecodeNormGemvArgs {
  // Prologue: h = residual (+ add), rounded to bf16 (fused_add_rms_norm.h), written to
  // residual_out by one block; x = bf16(h * rsqrt(mean(h²) + eps) * norm_weight). With
  // norm_weight and residual_out null (and no add): x = residual, no norm.
  const __nv_bfloat16* residual = nullptr;     // [num_tokens, hidden_size]
  const __nv_bfloat16* add = nullptr;          // [num_tokens, hidden_size] or null (no add)
  __nv_bfloat16* residual_out = nullptr;       // [num_tokens, hidden_size], aliases neither input
  const __nv_bfloat16* norm_weight = nullptr;  // [hidden_size]
  float eps = 0.0F;
  const __nv_bfloat16* w = nullptr;  // [out_features, hidden_size]
  __nv_bfloat16* out = nullptr;      // see DecodeEpilogue
  int64_t num_tokens = 0;            // 1..kDecodeGemvMaxTokens
  int64_t hidden_size = 0;           // a multiple of 8
  int64_t out_features = 0;
  DecodeEpilogue epilogue = DecodeEpilogue::kSiluMul;
  // kRopeKvCache only.
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  const int32_t* positions = nullptr;  // [num_tokens]
  const float* inv_freq = nullptr;     // [head_dim / 2]
  __nv_bfloat16* k_cache = nullptr;    // [num_blocks, block_size, num_kv_heads, head_dim]
  __nv_bfloat16* v_cache = nullptr;
  const int32_t* slot_mapping = nullptr;  // [num_tokens]
};

// True when the fused kernel takes these sizes (the caller falls back to the unfused ops).
bool decode_norm_gemv_supported(int64_t num_tokens, int64_t hidden_size);

// One warp per pair of output rows ((i, i + head_dim/2) of a head, or (i, i + out_features/2)),
// so the epilogue has both operands in registers. Each warp issues its first weight loads, lets
// the next kernel launch (griddepcontrol.launch_dependents), then waits for the previous kernel
// (programmatic dependent launch: the weight stream overlaps its tail); every block then
// recomputes the norm of the <= 8 input rows into shared memory (16 KB per row from L2).
void decode_norm_gemv_bf16(cudaStream_t stream, const DecodeNormGemvArgs& args);

}  // namespace swiftkv::cuda
