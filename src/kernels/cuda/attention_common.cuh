// Device building blocks of the attention kernels (internal header): cp.async copies, ldmatrix,
// the m16n8k16 bf16 and f16 tensor-core MMAs, an 8x8 register transpose, the swizzled
// shared-memory tile layout, paged-cache row addressing, the e4m3 -> bf16 / f16 conversions of
// staged cache tiles, and argument checks.
//
// Fragment layouts of mma.m16n8k16 (PTX ISA, "Matrix Fragments for mma.m16n8k16"), with
// g = lane / 4 and t = lane % 4: A (16x16, row-major) a0 = (g, 2t..2t+1), a1 = (g+8, 2t..),
// a2 = (g, 2t+8..), a3 = (g+8, 2t+8..); B (16x8) b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g);
// C (16x8 f32) c0,c1 = (g, 2t..2t+1), c2,c3 = (g+8, 2t..2t+1). So the C fragments of two
// adjacent n-tiles of S = QKᵀ are, converted to bf16, the A fragment of P for P·V.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/paged_attention_args.h"

namespace swiftkv::cuda::attention {

__device__ __forceinline__ uint32_t shared_address(const void* pointer) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(pointer));
}

// 16-byte global -> shared copy; when !valid the destination is zero-filled and nothing is read.
__device__ __forceinline__ void cp_async_16(void* shared, const void* global, bool valid) {
  const int source_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(shared)),
               "l"(global), "r"(source_bytes)
               : "memory");
}

__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Waits until at most kPending of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* shared) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(shared)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* shared) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(shared)));
}

// c += a · b for one 16x8x16 tile, bf16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// c += a · b for one 16x8x16 tile, f16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_f16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                        uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// The warp's fragment of an 8x8 b16 matrix (lane: row lane / 4, columns 2 (lane % 4) and
// 2 (lane % 4) + 1) becomes the same fragment of its transpose.
__device__ __forceinline__ uint32_t transpose_8x8(uint32_t fragment) {
  uint32_t out = 0;
  asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;\n" : "=r"(out) : "r"(fragment));
  return out;
}

__device__ __forceinline__ uint32_t pack_f16(float lo, float hi) {
  const __half2 pair = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&pair);
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 pair = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&pair);
}

// Shared-memory tiles hold rows of kHeadDim bf16 as 16-byte chunks, chunk c of row r stored at
// chunk position c ^ (r % 8): the 8 rows read by one ldmatrix 8x8 matrix (or written by 8
// consecutive cp.async chunks) then fall into 8 different bank groups.
template <int kHeadDim>
__device__ __forceinline__ int tile_offset(int row, int chunk) {
  return row * kHeadDim + ((chunk ^ (row & 7)) * 8);
}

// ---- e4m3 caches ----------------------------------------------------------------------------
// The tensor-core kernels stage an e4m3 cache's raw bytes with cp.async. Prefill converts each
// staged tile into the same swizzled bf16 tile a bf16 cache is copied into (every warp reads the
// whole tile, so converting once per block is cheapest); decode, where each warp reads only its
// own 16 rows, converts ldmatrix fragments of the raw tile in registers.

template <typename TCache>
inline constexpr bool kIsE4M3 = std::is_same_v<TCache, __nv_fp8_e4m3>;

// Four e4m3 values (the bytes of `packed`, lowest first) as four bf16 (two bf16x2 words:
// elements 0,1 and 2,3), exactly. Each byte's sign goes to a bf16 sign bit and its 7 exponent and
// mantissa bits to the low 4 exponent and top 3 mantissa bits of the bf16, which then reads as
// the e4m3 value times 2^-120 (e4m3 subnormals land on bf16 subnormals, which bf16 arithmetic
// keeps: PTX mul.bf16x2 has no flush-to-zero); one bf16x2 multiply by 2^120 (a power of two,
// results in bf16's normal range: exact) restores the value. About 10 ALU instructions per 4
// elements (2 fewer without the final byte permutes), where cvt.rn.f16x2.e4m3x2 plus the
// f16 -> f32 -> bf16 conversions would take 8 on the conversion pipe. The NaN codes 0x7f / 0xff
// read as ±480: the saturating cache write produces them only from NaN inputs.
// `even` gets bytes 0 and 2 (low and high half), `odd` bytes 1 and 3: the pairs the MMA
// fragments of a directly converted tile need (decode_attention.cu).
__device__ __forceinline__ void e4m3x4_to_bf16_pairs(uint32_t packed, uint32_t& even,
                                                     uint32_t& odd) {
  constexpr uint32_t kSigns = 0x80008000U;
  constexpr uint32_t kMagnitudes = 0x7f007f00U;
  constexpr uint32_t kTwoTo120 = 0x7b807b80U;  // bf16x2 (2^120, 2^120)
  const uint32_t odd_in = packed;              // bytes 1 and 3 in the high byte of each half
  const uint32_t even_in = packed << 8;        // bytes 0 and 2
  const uint32_t odd_bits = (odd_in & kSigns) | ((odd_in & kMagnitudes) >> 4);
  const uint32_t even_bits = (even_in & kSigns) | ((even_in & kMagnitudes) >> 4);
  const __nv_bfloat162 scale = *reinterpret_cast<const __nv_bfloat162*>(&kTwoTo120);
  const __nv_bfloat162 odd_values =
      __hmul2(*reinterpret_cast<const __nv_bfloat162*>(&odd_bits), scale);
  const __nv_bfloat162 even_values =
      __hmul2(*reinterpret_cast<const __nv_bfloat162*>(&even_bits), scale);
  odd = *reinterpret_cast<const uint32_t*>(&odd_values);
  even = *reinterpret_cast<const uint32_t*>(&even_values);
}

// Four e4m3 values (the bytes of `packed`) as four f16 scaled by 2^-8, exactly: each byte's
// sign goes to the f16 sign bit and its 7 exponent and mantissa bits to the low 4 exponent and
// top 3 mantissa bits of the f16 (e4m3's exponent bias is 7, f16's 15), so e4m3 subnormals land
// on f16 subnormals and the largest value (448) on 1.75. Seven ALU instructions per 4 elements and
// no multiply: a kernel computing in f16 folds the 2^8 into a scale it applies anyway. `even`
// gets bytes 0 and 2 (low and high half), `odd` bytes 1 and 3. The NaN codes read as ±480.
__device__ __forceinline__ void e4m3x4_to_f16_pairs_scaled(uint32_t packed, uint32_t& even,
                                                           uint32_t& odd) {
  constexpr uint32_t kSigns = 0x80008000U;
  constexpr uint32_t kMagnitudes = 0x3f803f80U;  // f16 bits 13..7 of each half
  odd = (packed & kSigns) | ((packed >> 1) & kMagnitudes);
  even = ((packed << 8) & kSigns) | ((packed << 7) & kMagnitudes);
}

// What e4m3x4_to_f16_pairs_scaled scales by.
inline constexpr float kE4M3ToF16Scale = 0x1p-8F;

__device__ __forceinline__ uint2 e4m3x4_to_bf16x4(uint32_t packed) {
  uint32_t even = 0;
  uint32_t odd = 0;
  e4m3x4_to_bf16_pairs(packed, even, odd);
  return make_uint2(__byte_perm(even, odd, 0x5410), __byte_perm(even, odd, 0x7632));
}

// Byte offset of 16-byte chunk `chunk` of row `row` in a swizzled e4m3 tile of kHeadDim-byte
// rows: the 8 rows one ldmatrix 8x8 matrix reads (or 8 consecutive chunks cp.async writes) fall
// into 8 different bank groups (rows of 128 bytes: chunk ^ (row % 8); of 64 bytes, two rows per
// 128-byte line: chunk ^ ((row / 2) % 4)).
template <int kHeadDim>
__device__ __forceinline__ int e4m3_tile_offset(int row, int chunk) {
  static_assert(kHeadDim == 64 || kHeadDim == 128);
  const int swizzle = kHeadDim == 128 ? (row & 7) : ((row >> 1) & 3);
  return row * kHeadDim + ((chunk ^ swizzle) * 16);
}

// Converts staged e4m3 chunk `chunk` (16 values at `staged`) of tile row `row` into the bf16
// tile's 16-byte chunks 2 chunk and 2 chunk + 1 (tile_offset layout). Chunks >= 4 store the odd
// half first: the 8 lanes of one 16-byte store phase (8 consecutive chunks of a row at head_dim
// 128, or 4 of each of two rows at 64) then hit 8 different bank groups.
template <int kHeadDim>
__device__ __forceinline__ void convert_e4m3_chunk(const unsigned char* staged, __nv_bfloat16* tile,
                                                   int row, int chunk) {
  const uint4 in = *reinterpret_cast<const uint4*>(staged);
  const uint2 a = e4m3x4_to_bf16x4(in.x);
  const uint2 b = e4m3x4_to_bf16x4(in.y);
  const uint2 c = e4m3x4_to_bf16x4(in.z);
  const uint2 d = e4m3x4_to_bf16x4(in.w);
  const uint4 lo = make_uint4(a.x, a.y, b.x, b.y);
  const uint4 hi = make_uint4(c.x, c.y, d.x, d.y);
  uint4* lo_dst = reinterpret_cast<uint4*>(tile + tile_offset<kHeadDim>(row, 2 * chunk));
  uint4* hi_dst = reinterpret_cast<uint4*>(tile + tile_offset<kHeadDim>(row, 2 * chunk + 1));
  if (chunk < 4) {
    *lo_dst = lo;
    *hi_dst = hi;
  } else {
    *hi_dst = hi;
    *lo_dst = lo;
  }
}

// Division by a run-time constant (the block size) without a hardware divide: the round-up
// reciprocal method of CUTLASS's FastDivmod (exact for dividends < 2^31).
struct FastDivmod {
  int divisor = 1;
  uint32_t multiplier = 0;
  uint32_t shift = 0;

  __host__ explicit FastDivmod(int d) : divisor(d) {
    if (d > 1) {
      int log2_ceil = 0;
      while ((int64_t{1} << log2_ceil) < d) {
        ++log2_ceil;
      }
      const int p = 31 + log2_ceil;
      multiplier = static_cast<uint32_t>(((uint64_t{1} << p) + static_cast<uint64_t>(d) - 1) /
                                         static_cast<uint64_t>(d));
      shift = static_cast<uint32_t>(p - 32);
    }
  }

  __device__ __forceinline__ int divide(int x) const {
    return divisor == 1 ? x
                        : static_cast<int>(__umulhi(static_cast<uint32_t>(x), multiplier) >> shift);
  }
};

// Element offset of the cache row (position, kv_head) of a sequence whose block table row is
// `block_table`.
__device__ __forceinline__ int64_t cache_row_offset(const int32_t* block_table, int position,
                                                    const FastDivmod& block_size, int num_kv_heads,
                                                    int kv_head, int head_dim) {
  const int block_index = block_size.divide(position);
  const int64_t block = block_table[block_index];
  const int64_t slot = block * block_size.divisor + (position - block_index * block_size.divisor);
  return (slot * num_kv_heads + kv_head) * head_dim;
}

// The cache element offsets of this thread's kPerThread 16-byte copies of a K/V tile whose first
// position is n0: copy c = threadIdx.x + i * kThreads is piece c % kPieces (kPieceElements
// elements each) of the row at position n0 + c / kPieces, clamped to `last`. The block-table
// reads are unconditional so that all of them are in flight together (a read under a row's bounds
// check compiles into a branch whose read is waited for before the next row's); the caller skips
// the copies of rows past `last`. row_offset(position) is the row's cache_row_offset.
template <int kPerThread, int kThreads, int kPieces, int kPieceElements, typename RowOffset>
__device__ __forceinline__ void clamped_tile_offsets(int64_t (&offsets)[kPerThread], int n0,
                                                     int last, RowOffset row_offset) {
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int c = static_cast<int>(threadIdx.x) + i * kThreads;
    offsets[i] = row_offset(min(n0 + c / kPieces, last)) + c % kPieces * kPieceElements;
  }
}

__device__ __forceinline__ float warp_max_quad(float value) {
  value = fmaxf(value, __shfl_xor_sync(0xffffffffU, value, 1));
  return fmaxf(value, __shfl_xor_sync(0xffffffffU, value, 2));
}

__device__ __forceinline__ float warp_sum_quad(float value) {
  value += __shfl_xor_sync(0xffffffffU, value, 1);
  return value + __shfl_xor_sync(0xffffffffU, value, 2);
}

}  // namespace swiftkv::cuda::attention
