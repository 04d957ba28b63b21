#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/generic_attention.h"
#include "kernels/cuda/vector_types.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kThreads = 128;  // also the largest head_dim and the tile of positions
constexpr int kWarps = kThreads / 32;

// Reduces `value` over the block with `op`; every thread gets the result. `scratch` holds kWarps
// floats and is reused after the trailing barrier.
template <typename Op>
__device__ float block_reduce(float value, float* scratch, Op op) {
  for (int offset = 16; offset > 0; offset /= 2) {
    value = op(value, __shfl_xor_sync(0xffffffffU, value, offset));
  }
  const int warp = static_cast<int>(threadIdx.x) / 32;
  if (threadIdx.x % 32 == 0) {
    scratch[warp] = value;
  }
  __syncthreads();
  float result = scratch[0];
  for (int w = 1; w < kWarps; ++w) {
    result = op(result, scratch[w]);
  }
  __syncthreads();
  return result;
}

// e^x for the softmax: the fast intrinsic for bf16 (its error is far below bf16's resolution),
// the accurate expf for f32 (the f32 model must match the CPU engine to ~1e-5).
template <typename T>
__device__ __forceinline__ float softmax_exp(float x) {
  if constexpr (std::is_same_v<T, float>) {
    return expf(x);
  } else {
    return __expf(x);
  }
}

template <typename T, typename TCache>
__global__ void generic_attention_kernel(PagedAttentionArgsT<T, TCache> args, int64_t q_stride) {
  __shared__ float q_shared[kThreads];
  __shared__ float p_shared[kThreads];
  __shared__ float scratch[kWarps];
  const int token = static_cast<int>(blockIdx.x);
  const int head = static_cast<int>(blockIdx.y);
  const int tid = static_cast<int>(threadIdx.x);
  const int num_seqs = static_cast<int>(args.num_seqs);
  if (token < args.query_start_loc[0] || token >= args.query_start_loc[num_seqs]) {
    return;  // graph padding, or rows of sequences outside this call (a mixed step's split)
  }
  // The last sequence whose first query row is <= token owns it (empty sequences share starts).
  int lo = 0;
  int hi = num_seqs - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (args.query_start_loc[mid] <= token) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  const int seq = lo;
  const int q_start = args.query_start_loc[seq];
  const int q_len = args.query_start_loc[seq + 1] - q_start;
  const int kv_len = args.kv_lens[seq];
  const int visible = kv_len - q_len + (token - q_start) + 1;
  const int head_dim = static_cast<int>(args.head_dim);
  const int num_kv_heads = static_cast<int>(args.num_kv_heads);
  const int kv_head = head / (static_cast<int>(args.num_heads) / num_kv_heads);
  const int block_size = static_cast<int>(args.block_size);
  const int32_t* block_table = args.block_tables + seq * args.max_blocks_per_seq;

  if (tid < head_dim) {
    q_shared[tid] =
        to_float(args.q[static_cast<int64_t>(token) * q_stride + head * head_dim + tid]);
  }
  __syncthreads();

  float running_max = -INFINITY;
  float running_sum = 0.0F;
  float accumulator = 0.0F;
  const auto row_of = [&](int position) {
    const int64_t block = block_table[position / block_size];
    return ((block * block_size + position % block_size) * num_kv_heads + kv_head) * head_dim;
  };
  for (int tile = 0; tile < visible; tile += kThreads) {
    const int position = tile + tid;
    float score = -INFINITY;
    if (position < visible) {
      const TCache* k = args.k_cache + row_of(position);
      float dot = 0.0F;
      for (int d = 0; d < head_dim; ++d) {
        dot += q_shared[d] * to_float(k[d]);
      }
      score = dot * args.scale;
    }
    const float tile_max =
        block_reduce(score, scratch, [](float a, float b) { return fmaxf(a, b); });
    const float new_max = fmaxf(running_max, tile_max);
    const float p = position < visible ? softmax_exp<T>(score - new_max) : 0.0F;
    p_shared[tid] = p;
    const float tile_sum = block_reduce(p, scratch, [](float a, float b) { return a + b; });
    const float correction =
        running_max == -INFINITY ? 0.0F : softmax_exp<T>(running_max - new_max);
    running_sum = running_sum * correction + tile_sum;
    if (tid < head_dim) {
      float sum = 0.0F;
      const int count = min(kThreads, visible - tile);
      for (int j = 0; j < count; ++j) {
        sum += p_shared[j] * to_float(args.v_cache[row_of(tile + j) + tid]);
      }
      accumulator = accumulator * correction + sum;
    }
    running_max = new_max;
    __syncthreads();  // p_shared is rewritten by the next tile
  }
  if (tid < head_dim) {
    args.out[(static_cast<int64_t>(token) * args.num_heads + head) * head_dim + tid] =
        from_float<T>(visible > 0 ? accumulator / running_sum : 0.0F);
  }
}

template <typename T, typename TCache>
void launch_generic_attention(cudaStream_t stream, const PagedAttentionArgsT<T, TCache>& args) {
  SWIFTKV_CHECK(args.head_dim > 0 && args.head_dim <= kThreads,
                "generic_attention: head_dim must be in [1, ", kThreads, "], got ", args.head_dim);
  SWIFTKV_CHECK(
      args.num_heads > 0 && args.num_kv_heads > 0 && args.num_heads % args.num_kv_heads == 0,
      "generic_attention: num_heads ", args.num_heads, " vs num_kv_heads ", args.num_kv_heads);
  SWIFTKV_CHECK(args.block_size > 0 && args.max_blocks_per_seq > 0,
                "generic_attention: block_size ", args.block_size, ", max_blocks_per_seq ",
                args.max_blocks_per_seq);
  if (args.num_tokens == 0 || args.num_seqs == 0) {
    return;
  }
  const int64_t q_stride = args.q_stride == 0 ? args.num_heads * args.head_dim : args.q_stride;
  const dim3 grid(static_cast<unsigned>(args.num_tokens), static_cast<unsigned>(args.num_heads));
  generic_attention_kernel<T, TCache><<<grid, kThreads, 0, stream>>>(args, q_stride);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void generic_attention_bf16(cudaStream_t stream, const PagedAttentionArgs& args) {
  launch_generic_attention(stream, args);
}

void generic_attention_bf16(cudaStream_t stream, const PagedAttentionArgsFp8& args) {
  launch_generic_attention(stream, args);
}

void generic_attention_f32(cudaStream_t stream, const PagedAttentionArgsT<float>& args) {
  launch_generic_attention(stream, args);
}

}  // namespace swiftkv::cuda
