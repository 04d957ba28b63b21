#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/decode_linear.h"
#include "kernels/cuda/programmatic_launch.cuh"
#include "kernels/cuda/swiglu_math.cuh"

namespace swiftkv::cuda {
namespace {

constexpr int kConsumerWarps = 8;
constexpr int kConsumerThreads = kConsumerWarps * 32;
constexpr int kThreads = kConsumerThreads + 32;  // the last warp is the producer
constexpr int kPiece = 1024;                     // elements of a chunk one consumer warp takes
constexpr int kChunk = kPiece * kConsumerWarps;  // 16 KB of weights per stage
// A ring of 7 stages (112 KB): with x (8-32 KB) one block fits beside a decode-attention block
// (100 KB; o_proj streams while attention runs) but two never share an SM, so consecutive
// projections, launched programmatically, do not put two blocks of one grid on an SM (which
// would stream twice that SM's share of the rows through one SM). dev/kernels/NOTES.md.
constexpr int kStages = 7;
// Chunks the producer copies before the previous kernel of the step has finished; then it waits
// for it like the consumers do. 64 KB instead of the whole ring measured 0.3-0.5% faster a
// batch-1 step (1 to 7 chunks alike, and so did a build where the wait is never reached, so
// where the time goes is not established; dev/kernels/NOTES.md, session 10).
constexpr int kEarlyChunks = 4;
constexpr int kConsumerBarrier = 1;  // named barrier of the consumer warps (0 is __syncthreads)
constexpr uint32_t kMaxSharedBytes = 227 * 1024;  // a block's limit on sm_90

// Byte offsets in a block's dynamic shared memory: the ring of weight stages, x after its
// input transform (bf16), one f32 partial dot product per (row, 1,024-column piece) summed in
// a fixed order at the end (so results do not depend on warp timing), the stages' full and
// empty barriers, and the RMSNorm reduction's per-warp sums.
struct SharedLayout {
  uint32_t x = 0;
  uint32_t piece_sums = 0;
  uint32_t barriers = 0;
  uint32_t warp_sums = 0;
  uint32_t total = 0;

  SharedLayout(int64_t k, int64_t max_rows) {
    x = kStages * kChunk * 2;
    piece_sums = x + static_cast<uint32_t>(k * 2);
    const auto pieces = static_cast<uint32_t>(max_rows * (k / kPiece));
    barriers = piece_sums + (pieces * 4 + 15) / 16 * 16;
    warp_sums = barriers + (2 * kStages + 1) * 8;  // full, empty, the norm weight's
    total = warp_sums + kConsumerWarps * 4;
  }
};

__device__ __forceinline__ uint32_t shared_address(const void* pointer) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(pointer));
}

__device__ __forceinline__ void mbarrier_init(uint32_t barrier, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(barrier), "r"(count) : "memory");
}

__device__ __forceinline__ void mbarrier_arrive(uint32_t barrier) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(barrier) : "memory");
}

__device__ __forceinline__ void mbarrier_arrive_expect_bytes(uint32_t barrier, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(barrier), "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void mbarrier_wait(uint32_t barrier, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n"
        "}\n"
        : "=r"(done)
        : "r"(barrier), "r"(parity)
        : "memory");
  } while (done == 0);
}

// Weights are read once per step: first out of L2, so they do not push out activations and
// the KV cache.
__device__ __forceinline__ uint64_t evict_first_policy() {
  uint64_t policy = 0;
  asm volatile("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;\n" : "=l"(policy));
  return policy;
}

// The norm weights (a few KB per layer, read by every block each step) stay in L2.
__device__ __forceinline__ uint64_t evict_last_policy() {
  uint64_t policy = 0;
  asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;\n" : "=l"(policy));
  return policy;
}

__device__ __forceinline__ void bulk_copy_to_shared(uint32_t dst, const void* src, uint32_t bytes,
                                                    uint32_t barrier, uint64_t policy) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint "
      "[%0], [%1], %2, [%3], %4;\n" ::"r"(dst),
      "l"(src), "r"(bytes), "r"(barrier), "l"(policy)
      : "memory");
}

__device__ __forceinline__ void consumer_sync() {
  asm volatile("bar.sync %0, %1;\n" ::"n"(kConsumerBarrier), "n"(kConsumerThreads) : "memory");
}

__device__ __forceinline__ float warp_sum(float value) {
  for (int offset = 16; offset > 0; offset /= 2) {
    value += __shfl_xor_sync(0xffffffffU, value, offset);
  }
  return value;
}

// 8 bf16 held in a uint4, as 4 pairs.
__device__ __forceinline__ float2 pair_of(const uint4& v, int j) {
  const uint32_t bits = j == 0 ? v.x : j == 1 ? v.y : j == 2 ? v.z : v.w;
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&bits));
}

__device__ __forceinline__ uint32_t pack(float a, float b) {
  const __nv_bfloat162 pair = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<const uint32_t*>(&pair);
}

// 16-byte vectors of x per consumer thread, at most.
constexpr int kMaxVecs = static_cast<int>(kDecodeLinearMaxK / 8 / kConsumerThreads);

// x after the input transform into shared memory, by the consumer threads (ops: rms_norm and
// swiglu, with the same f32 math and rounding). Every load of a thread is issued before the
// first use, so the transform costs one memory round trip (two barriers for the RMSNorm, whose
// weight the producer copied into the x buffer first: `norm_weight_ready`).
__device__ __forceinline__ void load_input(const DecodeLinearArgs& args, uint4* xs,
                                           float* warp_sums, uint32_t norm_weight_ready) {
  const auto num_vecs = static_cast<int>(args.k / 8);
  const auto* x = reinterpret_cast<const uint4*>(args.x);
  const int tid = static_cast<int>(threadIdx.x);
  if (args.input == DecodeLinearInput::kSiluMul) {
    constexpr int kBatch = kMaxVecs / 2;  // two round trips keep gate and up in 64 registers
#pragma unroll
    for (int b = 0; b < kMaxVecs; b += kBatch) {
      uint4 gate[kBatch];
      uint4 up[kBatch];
#pragma unroll
      for (int i = 0; i < kBatch; ++i) {
        const int v = tid + (b + i) * kConsumerThreads;
        if (v < num_vecs) {
          gate[i] = x[v];
          up[i] = x[num_vecs + v];
        }
      }
#pragma unroll
      for (int i = 0; i < kBatch; ++i) {
        const int v = tid + (b + i) * kConsumerThreads;
        if (v < num_vecs) {
          uint32_t out[4];
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const float2 g = pair_of(gate[i], j);
            const float2 u = pair_of(up[i], j);
            out[j] = pack(silu_times(g.x, u.x), silu_times(g.y, u.y));
          }
          xs[v] = make_uint4(out[0], out[1], out[2], out[3]);
        }
      }
    }
    return;
  }
  uint4 values[kMaxVecs];
  float sum_squares = 0.0F;
#pragma unroll
  for (int i = 0; i < kMaxVecs; ++i) {
    const int v = tid + i * kConsumerThreads;
    if (v < num_vecs) {
      values[i] = x[v];
    }
  }
  if (args.input != DecodeLinearInput::kRmsNorm) {
#pragma unroll
    for (int i = 0; i < kMaxVecs; ++i) {
      const int v = tid + i * kConsumerThreads;
      if (v < num_vecs) {
        xs[v] = values[i];
      }
    }
    return;
  }
#pragma unroll
  for (int i = 0; i < kMaxVecs; ++i) {
    if (tid + i * kConsumerThreads < num_vecs) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float2 f = pair_of(values[i], j);
        sum_squares += f.x * f.x + f.y * f.y;
      }
    }
  }
  sum_squares = warp_sum(sum_squares);
  if (tid % 32 == 0) {
    warp_sums[tid / 32] = sum_squares;
  }
  consumer_sync();
  float total = 0.0F;
#pragma unroll
  for (int w = 0; w < kConsumerWarps; ++w) {
    total += warp_sums[w];
  }
  const float inv_rms = rsqrtf(total / static_cast<float>(args.k) + args.eps);
  mbarrier_wait(norm_weight_ready, 0);
#pragma unroll
  for (int i = 0; i < kMaxVecs; ++i) {
    const int v = tid + i * kConsumerThreads;
    if (v < num_vecs) {
      const uint4 g = xs[v];  // the norm weight
      uint32_t out[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float2 f = pair_of(values[i], j);
        const float2 w = pair_of(g, j);
        out[j] = pack(f.x * inv_rms * w.x, f.y * inv_rms * w.y);
      }
      xs[v] = make_uint4(out[0], out[1], out[2], out[3]);
    }
  }
}

// SiLU(gate) · up of one pair of the projection's sums, each rounded to bf16 first (as the
// unfused gate-up projection's output), in the f32 math of load_input's kSiluMul.
__device__ __forceinline__ __nv_bfloat16 swiglu_of(float gate_sum, float up_sum) {
  const float g = __bfloat162float(__float2bfloat16(gate_sum));
  const float u = __bfloat162float(__float2bfloat16(up_sum));
  return __float2bfloat16(silu_times(g, u));
}

// kSwiglu (args.swiglu): w's rows interleave gate and up (row 2j gate j, row 2j + 1 up j); a
// block takes whole pairs, [unit0, unit0 + rows / 2), and out[j] = swiglu_of(row 2j, row 2j + 1).
template <bool kSwiglu>
__global__ void __launch_bounds__(kThreads, 1)
    decode_linear_kernel(DecodeLinearArgs args, SharedLayout layout) {
  extern __shared__ __align__(128) unsigned char shared[];
  allow_dependents_to_launch();  // the next kernel may be scheduled as SMs free up
  const auto* ring = reinterpret_cast<const __nv_bfloat16*>(shared);
  auto* xs = reinterpret_cast<uint4*>(shared + layout.x);
  auto* piece_sums = reinterpret_cast<float*>(shared + layout.piece_sums);
  const uint32_t barriers = shared_address(shared + layout.barriers);
  const auto full = [&](int stage) { return barriers + 8 * stage; };
  const auto empty = [&](int stage) { return barriers + 8 * (kStages + stage); };
  const uint32_t norm_weight_ready = barriers + 8 * 2 * kStages;
  constexpr int kRowsPerUnit = kSwiglu ? 2 : 1;  // blocks split rows, or (gate, up) row pairs
  const int64_t units = args.n / kRowsPerUnit;
  const int64_t unit0 = blockIdx.x * units / gridDim.x;
  const int64_t row0 = unit0 * kRowsPerUnit;
  const int64_t rows = ((blockIdx.x + 1) * units / gridDim.x - unit0) * kRowsPerUnit;
  const int64_t span = rows * args.k;  // this block's weights: one contiguous range of w
  const auto num_chunks = static_cast<int>((span + kChunk - 1) / kChunk);
  const int warp = static_cast<int>(threadIdx.x / 32);
  const int lane = static_cast<int>(threadIdx.x % 32);
  if (threadIdx.x == 0) {
    for (int stage = 0; stage < kStages; ++stage) {
      mbarrier_init(full(stage), 1);
      mbarrier_init(empty(stage), kConsumerWarps);
    }
    mbarrier_init(norm_weight_ready, 1);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warp == kConsumerWarps) {  // producer: constants only, so it need not wait (kEarlyChunks)
    if (lane == 0) {
      if (args.input == DecodeLinearInput::kRmsNorm) {  // first, ahead of the weight stream
        const auto bytes = static_cast<uint32_t>(args.k * 2);
        mbarrier_arrive_expect_bytes(norm_weight_ready, bytes);
        bulk_copy_to_shared(shared_address(xs), args.norm_weight, bytes, norm_weight_ready,
                            evict_last_policy());
      }
      const uint64_t policy = evict_first_policy();
      const __nv_bfloat16* source = args.w + row0 * args.k;
      for (int c = 0; c < num_chunks; ++c) {
        const int stage = c % kStages;
        if (c >= kStages) {
          mbarrier_wait(empty(stage), ((c / kStages) - 1) & 1);
        }
        if (c == kEarlyChunks) {
          wait_for_previous_grid();
        }
        const int64_t left = span - int64_t{c} * kChunk;
        const auto bytes = static_cast<uint32_t>((left < kChunk ? left : kChunk) * 2);
        mbarrier_arrive_expect_bytes(full(stage), bytes);
        bulk_copy_to_shared(shared_address(ring + stage * kChunk), source + int64_t{c} * kChunk,
                            bytes, full(stage), policy);
      }
    }
    return;
  }

  wait_for_previous_grid();  // x (and out, when accumulating) come from earlier kernels
  load_input(args, xs, reinterpret_cast<float*>(shared + layout.warp_sums), norm_weight_ready);
  consumer_sync();
  const auto* x = reinterpret_cast<const __nv_bfloat16*>(xs);
  for (int c = 0; c < num_chunks; ++c) {
    const int stage = c % kStages;
    mbarrier_wait(full(stage), (c / kStages) & 1);
    const int64_t piece = int64_t{c} * kChunk + warp * kPiece;
    if (piece < span) {  // the last chunk may be short (whole pieces: k % kPiece == 0)
      const int64_t column = piece % args.k;
      const __nv_bfloat16* weights = ring + stage * kChunk + warp * kPiece;
      float sum0 = 0.0F;
      float sum1 = 0.0F;
#pragma unroll
      for (int i = 0; i < kPiece / 256; ++i) {
        const int e = (i * 32 + lane) * 8;
        const uint4 w = *reinterpret_cast<const uint4*>(weights + e);
        const uint4 v = *reinterpret_cast<const uint4*>(x + column + e);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const float2 a = pair_of(w, j);
          const float2 b = pair_of(v, j);
          sum0 = fmaf(a.x, b.x, sum0);
          sum1 = fmaf(a.y, b.y, sum1);
        }
      }
      const float sum = warp_sum(sum0 + sum1);
      if (lane == 0) {
        piece_sums[piece / kPiece] = sum;
      }
    }
    __syncwarp();
    if (lane == 0) {
      mbarrier_arrive(empty(stage));
    }
  }
  consumer_sync();

  const auto pieces_per_row = static_cast<int>(args.k / kPiece);
  const auto row_sum = [&](int64_t r) {
    float sum = 0.0F;
    for (int p = 0; p < pieces_per_row; ++p) {
      sum += piece_sums[r * pieces_per_row + p];
    }
    return sum;
  };
  if constexpr (kSwiglu) {
    for (auto r = static_cast<int64_t>(threadIdx.x); r < rows / 2; r += kConsumerThreads) {
      args.out[unit0 + r] = swiglu_of(row_sum(2 * r), row_sum(2 * r + 1));
    }
  } else {
    for (auto r = static_cast<int64_t>(threadIdx.x); r < rows; r += kConsumerThreads) {
      const float sum = row_sum(r);
      if (args.out_f32 != nullptr) {
        args.out_f32[row0 + r] = sum;
        continue;
      }
      const __nv_bfloat16 y = __float2bfloat16(sum);
      __nv_bfloat16* out = args.out + row0 + r;
      *out = args.accumulate ? __float2bfloat16(__bfloat162float(*out) + __bfloat162float(y)) : y;
    }
  }
}

int multiprocessor_count() {
  static const int count = [] {
    int device = 0;
    int value = 0;
    CUDA_CHECK(cudaGetDevice(&device));
    CUDA_CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, device));
    for (auto* kernel : {decode_linear_kernel<false>, decode_linear_kernel<true>}) {
      CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      kMaxSharedBytes));
    }
    return value;
  }();
  return count;
}

bool aligned16(const void* pointer) { return reinterpret_cast<uintptr_t>(pointer) % 16 == 0; }

// The grid (one block per SM, at most one per row) and a block's shared memory.
struct Launch {
  int grid;
  SharedLayout layout;
};

// swiglu: the blocks split the n / 2 (gate, up) row pairs.
Launch launch_of(int64_t n, int64_t k, bool swiglu = false) {
  const int64_t units = swiglu ? n / 2 : n;
  const int grid = static_cast<int>(std::min<int64_t>(multiprocessor_count(), units));
  return {grid, SharedLayout(k, (units + grid - 1) / grid * (swiglu ? 2 : 1))};
}

bool k_supported(int64_t k) {
  return k > 0 && k % kDecodeLinearKMultiple == 0 && k <= kDecodeLinearMaxK;
}

}  // namespace

bool decode_linear_supports(int64_t n, int64_t k) {
  return k_supported(k) && n > 0 && launch_of(n, k).layout.total <= kMaxSharedBytes;
}

void decode_linear_bf16(cudaStream_t stream, const DecodeLinearArgs& args) {
  static_assert(kDecodeLinearKMultiple == kPiece);
  SWIFTKV_CHECK(k_supported(args.k), "decode_linear: in_features ", args.k,
                " is not a positive multiple of ", kDecodeLinearKMultiple, " up to ",
                kDecodeLinearMaxK);
  SWIFTKV_CHECK(args.n > 0, "decode_linear: out_features ", args.n, " must be positive");
  SWIFTKV_CHECK((args.out == nullptr) != (args.out_f32 == nullptr),
                "decode_linear: exactly one of out and out_f32");
  SWIFTKV_CHECK(args.out_f32 == nullptr || !args.accumulate,
                "decode_linear: an f32 output does not accumulate");
  SWIFTKV_CHECK(args.x != nullptr && args.w != nullptr, "decode_linear: null x or w");
  SWIFTKV_CHECK(aligned16(args.x) && aligned16(args.w),
                "decode_linear: x and w must be 16-byte aligned");
  SWIFTKV_CHECK(args.input != DecodeLinearInput::kRmsNorm ||
                    (args.norm_weight != nullptr && aligned16(args.norm_weight)),
                "decode_linear: RMSNorm input needs a 16-byte aligned norm weight");
  SWIFTKV_CHECK(!args.swiglu || (args.n % 2 == 0 && args.out != nullptr && !args.accumulate),
                "decode_linear: a SwiGLU output needs an even out_features (", args.n,
                "), a bf16 out and no accumulate");
  const int64_t x_elements = args.input == DecodeLinearInput::kSiluMul ? 2 * args.k : args.k;
  const auto* out_begin = args.out != nullptr ? reinterpret_cast<const char*>(args.out)
                                              : reinterpret_cast<const char*>(args.out_f32);
  const int64_t out_bytes = (args.swiglu ? args.n / 2 : args.n) * (args.out != nullptr ? 2 : 4);
  const auto* x_begin = reinterpret_cast<const char*>(args.x);
  SWIFTKV_CHECK(out_begin + out_bytes <= x_begin || x_begin + x_elements * 2 <= out_begin,
                "decode_linear: out overlaps x");
  const auto [grid, layout] = launch_of(args.n, args.k, args.swiglu);
  SWIFTKV_CHECK(layout.total <= kMaxSharedBytes, "decode_linear: ", args.n, " x ", args.k,
                " needs ", layout.total, " bytes of shared memory per block, more than ",
                kMaxSharedBytes);
  launch_programmatic(args.swiglu ? decode_linear_kernel<true> : decode_linear_kernel<false>,
                      dim3(grid), dim3(kThreads), layout.total, stream, args, layout);
}

}  // namespace swiftkv::cuda
