#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/programmatic_launch.cuh"
#include "kernels/cuda/rope_kv_cache.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 256;

// Rotates elements (i, i+1) and (i+half, i+half+1) of one head in place and optionally copies
// the rotated values (as rounded to T) to `cache_head`, converted to TCache.
template <typename T, typename TCache>
__device__ void rotate_pair(T* head, TCache* cache_head, int i, int half, const float* cos_table,
                            const float* sin_table) {
  using Pair = PairOf<T>;
  using P = typename Pair::Type;
  P* lo_ptr = reinterpret_cast<P*>(head + i);
  P* hi_ptr = reinterpret_cast<P*>(head + i + half);
  const float2 a = Pair::to_float2(*lo_ptr);
  const float2 b = Pair::to_float2(*hi_ptr);
  const float c0 = cos_table[i];
  const float c1 = cos_table[i + 1];
  const float s0 = sin_table[i];
  const float s1 = sin_table[i + 1];
  const P lo = Pair::from_floats(a.x * c0 - b.x * s0, a.y * c1 - b.y * s1);
  const P hi = Pair::from_floats(b.x * c0 + a.x * s0, b.y * c1 + a.y * s1);
  *lo_ptr = lo;
  *hi_ptr = hi;
  if (cache_head != nullptr) {
    store_pair<TCache, T>(cache_head + i, lo);
    store_pair<TCache, T>(cache_head + i + half, hi);
  }
}

template <typename T, typename TCache>
__global__ void rope_kv_cache_kernel(RopeKvCacheArgsT<T, TCache> args) {
  using P = typename PairOf<T>::Type;
  extern __shared__ float tables[];  // cos[half], sin[half]
  // A programmatic launch: attention may be scheduled now; q, k, v come from the projection.
  allow_dependents_to_launch();
  wait_for_previous_grid();
  const int half = static_cast<int>(args.head_dim / 2);
  float* cos_table = tables;
  float* sin_table = tables + half;
  const int64_t t = blockIdx.x;
  const int64_t layer = blockIdx.y;
  const float position = static_cast<float>(args.positions[t]);
  for (int i = threadIdx.x; i < half; i += kThreads) {
    const float angle = position * args.inv_freq[i];
    cos_table[i] = cosf(angle);
    sin_table[i] = sinf(angle);
  }
  __syncthreads();

  const int64_t slot = args.k_cache != nullptr ? args.slot_mapping[t] : -1;
  const int pairs_per_head = half / 2;
  const int num_heads = layer == 0 ? static_cast<int>(args.num_heads) : 0;
  T* const k = args.k + layer * args.kv_layer_stride;
  const T* const v = args.v + layer * args.kv_layer_stride;
  TCache* const k_cache =
      args.k_cache != nullptr ? args.k_cache + layer * args.cache_layer_stride : nullptr;
  TCache* const v_cache =
      args.v_cache != nullptr ? args.v_cache + layer * args.cache_layer_stride : nullptr;
  const int num_kv_heads = static_cast<int>(args.num_kv_heads);
  const int num_rotations = (num_heads + num_kv_heads) * pairs_per_head;
  for (int e = threadIdx.x; e < num_rotations; e += kThreads) {
    const int head = e / pairs_per_head;
    const int i = 2 * (e % pairs_per_head);
    if (head < num_heads) {
      rotate_pair<T, TCache>(args.q + t * args.q_stride + head * args.head_dim, nullptr, i, half,
                             cos_table, sin_table);
    } else {
      const int kv_head = head - num_heads;
      TCache* cache_head =
          slot >= 0 ? k_cache + (slot * num_kv_heads + kv_head) * args.head_dim : nullptr;
      rotate_pair<T, TCache>(k + t * args.kv_stride + kv_head * args.head_dim, cache_head, i, half,
                             cos_table, sin_table);
    }
  }
  if (slot >= 0) {
    const int64_t num_v_pairs = num_kv_heads * args.head_dim / 2;
    const auto* v_row = reinterpret_cast<const P*>(v + t * args.kv_stride);
    TCache* v_cache_row = v_cache + slot * num_kv_heads * args.head_dim;
    for (int64_t e = threadIdx.x; e < num_v_pairs; e += kThreads) {
      store_pair<TCache, T>(v_cache_row + 2 * e, v_row[e]);
    }
  }
}

template <typename T, typename TCache>
void launch_rope_kv_cache(cudaStream_t stream, const RopeKvCacheArgsT<T, TCache>& args) {
  SWIFTKV_CHECK(args.head_dim % 4 == 0 && args.head_dim > 0 && args.head_dim <= 1024,
                "rope: head_dim must be a positive multiple of 4 up to 1024, got ", args.head_dim);
  SWIFTKV_CHECK(args.q_stride % 2 == 0 && args.kv_stride % 2 == 0,
                "rope: token strides must be even (element pairs): q_stride ", args.q_stride,
                ", kv_stride ", args.kv_stride);
  SWIFTKV_CHECK(args.num_heads == 0 || args.q != nullptr, "rope: q is null with num_heads ",
                args.num_heads);
  SWIFTKV_CHECK((args.k_cache == nullptr) == (args.v_cache == nullptr),
                "rope: give both caches or neither");
  SWIFTKV_CHECK(args.k_cache == nullptr || (args.v != nullptr && args.slot_mapping != nullptr),
                "rope: a cache write needs v and slot_mapping");
  for (const void* pointer : {static_cast<const void*>(args.q), static_cast<const void*>(args.k),
                              static_cast<const void*>(args.v)}) {
    SWIFTKV_CHECK(reinterpret_cast<uintptr_t>(pointer) % (2 * sizeof(T)) == 0,
                  "rope: tensors must be aligned to element pairs (", 2 * sizeof(T),
                  " bytes), got ", pointer);
  }
  for (const void* pointer :
       {static_cast<const void*>(args.k_cache), static_cast<const void*>(args.v_cache)}) {
    SWIFTKV_CHECK(reinterpret_cast<uintptr_t>(pointer) % (2 * sizeof(TCache)) == 0,
                  "rope: caches must be aligned to element pairs (", 2 * sizeof(TCache),
                  " bytes), got ", pointer);
  }
  SWIFTKV_CHECK(args.num_layers >= 1 && args.num_layers <= 65535 &&
                    (args.num_layers == 1 ||
                     (args.kv_layer_stride % 2 == 0 && args.cache_layer_stride % 2 == 0)),
                "rope: num_layers ", args.num_layers, " with kv_layer_stride ",
                args.kv_layer_stride, " and cache_layer_stride ", args.cache_layer_stride);
  if (args.num_tokens == 0) {
    return;
  }
  const size_t shared_bytes = sizeof(float) * static_cast<size_t>(args.head_dim);
  const dim3 grid(static_cast<unsigned>(args.num_tokens), static_cast<unsigned>(args.num_layers));
  launch_programmatic(rope_kv_cache_kernel<T, TCache>, grid, dim3(kThreads), shared_bytes, stream,
                      args);
}

}  // namespace

void rope_write_kv_cache_bf16(cudaStream_t stream, const RopeKvCacheArgs& args) {
  launch_rope_kv_cache(stream, args);
}

void rope_write_kv_cache_bf16(cudaStream_t stream, const RopeKvCacheArgsFp8& args) {
  launch_rope_kv_cache(stream, args);
}

void rope_write_kv_cache_f32(cudaStream_t stream, const RopeKvCacheArgsT<float>& args) {
  launch_rope_kv_cache(stream, args);
}

}  // namespace swiftkv::cuda
