// Rotary position embedding fused with the paged KV-cache write, on CUDA (bf16 or f32 tensors,
// the model's dtype; f32 math; the cache in the model's dtype, or e4m3 under bf16).
// Contract: ops/rope.h on q and k, then ops/write_kv_cache.h with the rotated k and v.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace swiftkv::cuda {

// q, k and v may be column slices of one fused QKV projection output: each has its own token
// stride (elements between consecutive tokens); heads of a token are contiguous. T is the
// element type of q, k and v: __nv_bfloat16 or float; TCache that of the caches: T, or
// __nv_fp8_e4m3 with bf16 T (--kv-cache-dtype fp8).
template <typename T, typename TCache = T>
struct RopeKvCacheArgsT {
  T* q = nullptr;  // [num_tokens, num_heads, head_dim], rotated in place (may be null when
                   // num_heads == 0, e.g. SwiftKV's K/V-only pass)
  int64_t q_stride = 0;
  T* k = nullptr;         // [num_tokens, num_kv_heads, head_dim], rotated in place
  const T* v = nullptr;   // [num_tokens, num_kv_heads, head_dim]
  int64_t kv_stride = 0;  // token stride of both k and v
  // [num_blocks, block_size, num_kv_heads, head_dim]; both null = rotate only, no cache write.
  TCache* k_cache = nullptr;
  TCache* v_cache = nullptr;
  const int32_t* slot_mapping = nullptr;  // [num_tokens], slot = block * block_size + offset;
                                          // -1 = do not write this token
  const int32_t* positions = nullptr;     // [num_tokens]
  const float* inv_freq = nullptr;        // [head_dim / 2] f32, llama3 scaling already applied
  int64_t num_tokens = 0;
  // SwiftKV's bulk write of every group leader's K/V: num_layers (k, v) pairs follow each other
  // in a token's row, layer i's k at k + i * kv_layer_stride (likewise v), written into cache
  // layer i at k_cache + i * cache_layer_stride (likewise v_cache). q (if any) is rotated once.
  int64_t num_layers = 1;
  int64_t kv_layer_stride = 0;
  int64_t cache_layer_stride = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // a multiple of 4, at most 1024
};
using RopeKvCacheArgs = RopeKvCacheArgsT<__nv_bfloat16>;
using RopeKvCacheArgsFp8 = RopeKvCacheArgsT<__nv_bfloat16, __nv_fp8_e4m3>;

// Rotate-half RoPE with cos/sin of (f32 position × f32 inv_freq) in f32 (cosf/sinf, the same
// function as the CPU reference's float overloads), the rotation in f32, rounded once to bf16
// (stored as is in f32). The cache receives exactly those k values and v: as is, or (e4m3 cache)
// each bf16 value converted to e4m3, nearest even, saturating to ±448 (scale 1.0, vLLM's
// uncalibrated fp8 cache; bit for bit core/fp8.h's f32_to_fp8_e4m3). One thread per rotated or
// copied element pair; memory-bound (reads and writes q and k once, copies v into the cache). A
// programmatic launch: positions, slots and angles are read before the wait for the projection
// (step metadata is uploaded before the step's first kernel).
void rope_write_kv_cache_bf16(cudaStream_t stream, const RopeKvCacheArgs& args);
void rope_write_kv_cache_bf16(cudaStream_t stream, const RopeKvCacheArgsFp8& args);
void rope_write_kv_cache_f32(cudaStream_t stream, const RopeKvCacheArgsT<float>& args);

}  // namespace swiftkv::cuda
