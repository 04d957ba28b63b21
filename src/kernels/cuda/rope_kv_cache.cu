#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/programmatic_launch.cuh"
#include "kernels/cuda/rope_kv_cache.h"
#include "kernels/cuda/rope_math.cuh"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 256;

// The angles of elements i and i + 1 of a head (rope_math.cuh).
struct Angles {
  RopeAngle r0, r1;
};

__device__ Angles angles_at(float position, const float* inv_freq, int i) {
  return {rope_angle(position, inv_freq[i]), rope_angle(position, inv_freq[i + 1])};
}

// Rotates elements (i, i+1) and (i+half, i+half+1) of one head in place and optionally copies
// the rotated values (as rounded to T) to `cache_head`, converted to TCache.
template <typename T, typename TCache>
__device__ void rotate_pair(T* head, TCache* cache_head, int i, int half, const Angles& r) {
  using Pair = PairOf<T>;
  using P = typename Pair::Type;
  P* lo_ptr = reinterpret_cast<P*>(head + i);
  P* hi_ptr = reinterpret_cast<P*>(head + i + half);
  const float2 a = Pair::to_float2(*lo_ptr);
  const float2 b = Pair::to_float2(*hi_ptr);
  const P lo = Pair::from_floats(rope_low(a.x, b.x, r.r0), rope_low(a.y, b.y, r.r1));
  const P hi = Pair::from_floats(rope_high(a.x, b.x, r.r0), rope_high(a.y, b.y, r.r1));
  *lo_ptr = lo;
  *hi_ptr = hi;
  if (cache_head != nullptr) {
    store_pair<TCache, T>(cache_head + i, lo);
    store_pair<TCache, T>(cache_head + i + half, hi);
  }
}

// Items of a (token, layer): the rotations of element pairs of q (layer 0 only) and k heads,
// then (with a cache write) the copies of v's element pairs.
struct Items {
  int rotations;
  int total;
};

// What the kernel takes: RopeKvCacheArgsT's fields it reads, 32-bit where they fit, within
// kMaxStepKernelParameterBytes. The grid's x is the token, y the layer.
template <typename T, typename TCache>
struct KernelArgs {
  T* q;
  T* k;
  const T* v;
  TCache* k_cache;
  TCache* v_cache;
  const int32_t* slot_mapping;
  const int32_t* positions;
  const float* inv_freq;
  int64_t cache_layer_stride;
  int32_t q_stride;
  int32_t kv_stride;
  int32_t kv_layer_stride;
  int32_t num_heads;
  int32_t num_kv_heads;
  int32_t head_dim;
};

// (Args: RopeKvCacheArgsT or KernelArgs.)
template <typename Args>
__device__ __host__ Items items_of(const Args& args, int64_t layer) {
  const auto pairs_per_head = static_cast<int>(args.head_dim / 4);
  const auto num_heads = static_cast<int>(layer == 0 ? args.num_heads : 0);
  const int rotations = (num_heads + static_cast<int>(args.num_kv_heads)) * pairs_per_head;
  const int copies =
      args.k_cache != nullptr ? static_cast<int>(args.num_kv_heads * args.head_dim / 2) : 0;
  return {rotations, rotations + copies};
}

// One thread per item (block z over a (token, layer)'s items), so a one-token step costs one
// memory round trip after the wait. The position, the slot and the angles come first: step
// metadata is uploaded before the step's first kernel, so they need not wait for the projection
// that writes q, k and v.
template <typename T, typename TCache>
__global__ void rope_kv_cache_kernel(KernelArgs<T, TCache> args) {
  using P = typename PairOf<T>::Type;
  allow_dependents_to_launch();  // attention may be scheduled now
  const int64_t t = blockIdx.x;
  const int64_t layer = blockIdx.y;
  const Items items = items_of(args, layer);
  const int item = static_cast<int>(blockIdx.z * kThreads + threadIdx.x);
  if (item >= items.total) {
    return;
  }
  const int64_t slot = args.k_cache != nullptr ? args.slot_mapping[t] : -1;
  const auto num_kv_heads = static_cast<int>(args.num_kv_heads);
  const auto head_dim = static_cast<int>(args.head_dim);
  if (item >= items.rotations) {  // v into the cache
    const int e = item - items.rotations;
    wait_for_previous_grid();
    if (slot >= 0) {
      const auto* v_row =
          reinterpret_cast<const P*>(args.v + layer * args.kv_layer_stride + t * args.kv_stride);
      TCache* v_cache_row =
          args.v_cache + layer * args.cache_layer_stride + slot * num_kv_heads * head_dim;
      store_pair<TCache, T>(v_cache_row + 2 * e, v_row[e]);
    }
    return;
  }
  const int half = head_dim / 2;
  const int pairs_per_head = half / 2;
  const int head = item / pairs_per_head;
  const int i = 2 * (item % pairs_per_head);
  const Angles angles = angles_at(static_cast<float>(args.positions[t]), args.inv_freq, i);
  const auto num_heads = static_cast<int>(layer == 0 ? args.num_heads : 0);
  wait_for_previous_grid();  // q, k and v come from the projection
  if (head < num_heads) {
    rotate_pair<T, TCache>(args.q + t * args.q_stride + head * head_dim, nullptr, i, half, angles);
    return;
  }
  const int kv_head = head - num_heads;
  TCache* cache_head = slot >= 0 ? args.k_cache + layer * args.cache_layer_stride +
                                       (slot * num_kv_heads + kv_head) * head_dim
                                 : nullptr;
  rotate_pair<T, TCache>(
      args.k + layer * args.kv_layer_stride + t * args.kv_stride + kv_head * head_dim, cache_head,
      i, half, angles);
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
  const int items = items_of(args, 0).total;  // layer 0 has the most (it also rotates q)
  const dim3 grid(static_cast<unsigned>(args.num_tokens), static_cast<unsigned>(args.num_layers),
                  static_cast<unsigned>((items + kThreads - 1) / kThreads));
  SWIFTKV_CHECK(fits_in_int32({args.q_stride, args.kv_stride, args.kv_layer_stride, args.num_heads,
                               args.num_kv_heads}),
                "rope: a stride or count beyond 32 bits");
  const KernelArgs<T, TCache> kernel_args{
      .q = args.q,
      .k = args.k,
      .v = args.v,
      .k_cache = args.k_cache,
      .v_cache = args.v_cache,
      .slot_mapping = args.slot_mapping,
      .positions = args.positions,
      .inv_freq = args.inv_freq,
      .cache_layer_stride = args.cache_layer_stride,
      .q_stride = static_cast<int32_t>(args.q_stride),
      .kv_stride = static_cast<int32_t>(args.kv_stride),
      .kv_layer_stride = static_cast<int32_t>(args.kv_layer_stride),
      .num_heads = static_cast<int32_t>(args.num_heads),
      .num_kv_heads = static_cast<int32_t>(args.num_kv_heads),
      .head_dim = static_cast<int32_t>(args.head_dim)};
  static_assert(sizeof(KernelArgs<T, TCache>) <= kMaxStepKernelParameterBytes);
  launch_programmatic(rope_kv_cache_kernel<T, TCache>, grid, dim3(kThreads), 0, stream,
                      kernel_args);
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
