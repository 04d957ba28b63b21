// Device building blocks of the attention kernels (internal header): cp.async copies, ldmatrix,
// the m16n8k16 bf16 tensor-core MMA, the swizzled shared-memory tile layout, paged-cache row
// addressing and argument checks.
//
// Fragment layouts of mma.m16n8k16 (PTX ISA, "Matrix Fragments for mma.m16n8k16"), with
// g = lane / 4 and t = lane % 4: A (16x16, row-major) a0 = (g, 2t..2t+1), a1 = (g+8, 2t..),
// a2 = (g, 2t+8..), a3 = (g+8, 2t+8..); B (16x8) b0 = (k 2t..2t+1, n g), b1 = (k 2t+8.., n g);
// C (16x8 f32) c0,c1 = (g, 2t..2t+1), c2,c3 = (g+8, 2t..2t+1). So the C fragments of two
// adjacent n-tiles of S = QKᵀ are, converted to bf16, the A fragment of P for P·V.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

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

__device__ __forceinline__ float warp_max_quad(float value) {
  value = fmaxf(value, __shfl_xor_sync(0xffffffffU, value, 1));
  return fmaxf(value, __shfl_xor_sync(0xffffffffU, value, 2));
}

__device__ __forceinline__ float warp_sum_quad(float value) {
  value += __shfl_xor_sync(0xffffffffU, value, 1);
  return value + __shfl_xor_sync(0xffffffffU, value, 2);
}

}  // namespace swiftkv::cuda::attention
