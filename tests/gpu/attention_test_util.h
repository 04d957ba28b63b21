// A random paged-attention problem (varlen batch, shuffled block tables, random cache) with its
// CPU reference result, shared by the prefill and decode attention tests. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <type_traits>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cuda/paged_attention_args.h"

namespace swiftkv::testing {

struct AttentionCase {
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t head_dim;
  int64_t block_size;
  std::vector<std::pair<int32_t, int32_t>> seqs;  // (q_len, kv_len), kv_len >= q_len
  int64_t padding_rows = 0;  // extra q/out rows past the last sequence (graph padding)
};

inline std::string describe(const AttentionCase& c) {
  std::string s = "heads " + std::to_string(c.num_heads) + "/" + std::to_string(c.num_kv_heads) +
                  " head_dim " + std::to_string(c.head_dim) + " block " +
                  std::to_string(c.block_size) + " seqs";
  for (const auto& [q, kv] : c.seqs) {
    s += " (" + std::to_string(q) + "," + std::to_string(kv) + ")";
  }
  return s;
}

// Builds the problem in element type E (Bf16Elem, or F32Elem for generic_attention_f32) with a
// cache of element type CE (E, or Fp8Elem under Bf16Elem: the e4m3 cache), runs `kernel` (which
// launches on the given args), and checks every row.
// bf16 tolerance, per element: the kernel rounds each softmax weight to bf16 before the P·V product
// (one rounding, relative 2^-8), which moves the output by at most 2^-8 · max|v| of the rows
// attended; the output is rounded once to bf16 (2^-8 · |out|). Everything else (f32 scores,
// exp2 approximations, f32 sums, the f32 split combine) is ~2^-20 relative. Over the whole
// output the relative L2 error must also stay under 4e-3: roundings to nearest are unbiased,
// about 2^-9/sqrt(3) ≈ 1.1e-3 RMS relative for the output rounding, less for the weights.
// f32 tolerance (no roundings to bf16, accurate expf): the scores' f32 dot products over
// head_dim <= 128 terms err by at most head_dim·2^-24·sum|q k|·scale, and sum|q k|·scale ≈
// 0.64·sqrt(head_dim) for unit-normal data, so <= 0.64·128^1.5·2^-24 ≈ 2^-14 absolute on the
// scores, which moves the softmax weights by that much relatively and the output by
// <= 2^-14·max|v|; the f32 sums add ~2^-20 relative. Both bounds use 2^-14.
// e4m3 cache (random normal values rounded to e4m3): the reference attends to the same e4m3
// values, dequantized exactly, and the kernels' e4m3 -> bf16 conversion is exact too (every
// e4m3 value is a bf16 value; check_e4m3_cache_reads_exactly checks every code), so the kernel
// computes on exactly the reference's inputs and the bf16 bound above holds unchanged.
template <typename E = Bf16Elem, typename CE = E>
inline void run_attention_case(
    const AttentionCase& c, uint32_t seed,
    const std::function<void(
        cudaStream_t, const cuda::PagedAttentionArgsT<typename E::Device, typename CE::Device>&)>&
        kernel) {
  SCOPED_TRACE(describe(c));
  using Bits = typename E::Bits;
  using CacheBits = typename CE::Bits;
  constexpr bool kF32 = std::is_same_v<E, F32Elem>;
  const float element_tolerance = kF32 ? 0x1p-14F : 0x1p-8F;
  const double l2_tolerance = kF32 ? 0x1p-14 : 4e-3;
  std::mt19937 rng(seed);
  const int64_t num_seqs = static_cast<int64_t>(c.seqs.size());
  const int64_t d = c.head_dim;
  std::vector<int32_t> query_start_loc = {0};
  std::vector<int32_t> kv_lens;
  int64_t max_blocks = 1;
  int64_t used_blocks = 0;
  for (const auto& [q_len, kv_len] : c.seqs) {
    query_start_loc.push_back(query_start_loc.back() + q_len);
    kv_lens.push_back(kv_len);
    const int64_t blocks = (kv_len + c.block_size - 1) / c.block_size;
    max_blocks = std::max(max_blocks, blocks + 1);  // one spare column per row
    used_blocks += blocks;
  }
  const int64_t real_tokens = query_start_loc.back();
  const int64_t num_tokens = real_tokens + c.padding_rows;
  // Shuffled physical blocks, plus spare blocks nobody owns (random data that must never be
  // read); unused table entries point at a spare block.
  const int64_t num_blocks = used_blocks + 5;
  std::vector<int32_t> physical(static_cast<size_t>(num_blocks));
  std::iota(physical.begin(), physical.end(), 0);
  std::shuffle(physical.begin(), physical.end(), rng);
  std::vector<int32_t> block_tables(static_cast<size_t>(num_seqs * max_blocks), physical.back());
  size_t next = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t blocks = (kv_lens[static_cast<size_t>(s)] + c.block_size - 1) / c.block_size;
    for (int64_t b = 0; b < blocks; ++b) {
      block_tables[static_cast<size_t>(s * max_blocks + b)] = physical[next++];
    }
  }

  // q is a column slice of a wider fused-QKV-like row (q_stride > num_heads * head_dim).
  const int64_t q_width = c.num_heads * d;
  const int64_t q_stride = q_width + 2 * c.num_kv_heads * d;
  const std::vector<Bits> q_rows = random_elems<E>(static_cast<size_t>(num_tokens * q_stride), rng);
  const int64_t cache_elements = num_blocks * c.block_size * c.num_kv_heads * d;
  const std::vector<CacheBits> k_cache = random_elems<CE>(static_cast<size_t>(cache_elements), rng);
  const std::vector<CacheBits> v_cache = random_elems<CE>(static_cast<size_t>(cache_elements), rng);

  std::vector<float> q(static_cast<size_t>(real_tokens * q_width));
  for (int64_t t = 0; t < real_tokens; ++t) {
    for (int64_t i = 0; i < q_width; ++i) {
      q[static_cast<size_t>(t * q_width + i)] =
          E::to_f32(q_rows[static_cast<size_t>(t * q_stride + i)]);
    }
  }
  const float scale = 1.0F / std::sqrt(static_cast<float>(d));
  const Tensor expected = Tensor::empty({real_tokens, c.num_heads, d}, DType::kF32);
  const Shape cache_shape = {num_blocks, c.block_size, c.num_kv_heads, d};
  kernels::cpu::ref::paged_attention(
      expected, f32_tensor({real_tokens, c.num_heads, d}, q),
      elem_tensor<CE>(cache_shape, k_cache).to_f32(),
      elem_tensor<CE>(cache_shape, v_cache).to_f32(), i32_tensor({num_seqs + 1}, query_start_loc),
      i32_tensor({num_seqs}, kv_lens), i32_tensor({num_seqs, max_blocks}, block_tables), scale);

  cuda::Stream stream;
  const cuda::DeviceBuffer d_q = to_device(q_rows, stream.get());
  const cuda::DeviceBuffer d_k = to_device(k_cache, stream.get());
  const cuda::DeviceBuffer d_v = to_device(v_cache, stream.get());
  const cuda::DeviceBuffer d_starts = to_device(query_start_loc, stream.get());
  const cuda::DeviceBuffer d_kv_lens = to_device(kv_lens, stream.get());
  const cuda::DeviceBuffer d_tables = to_device(block_tables, stream.get());
  const size_t out_elements = static_cast<size_t>(num_tokens * q_width);
  const cuda::DeviceBuffer d_out =
      to_device(std::vector<Bits>(out_elements, E::kPoison), stream.get());
  kernel(stream.get(), {.out = elem_ptr<E>(d_out),
                        .q = elem_ptr<E>(d_q),
                        .q_stride = q_stride,
                        .k_cache = elem_ptr<CE>(d_k),
                        .v_cache = elem_ptr<CE>(d_v),
                        .query_start_loc = d_starts.as<int32_t>(),
                        .kv_lens = d_kv_lens.as<int32_t>(),
                        .block_tables = d_tables.as<int32_t>(),
                        .num_seqs = num_seqs,
                        .num_tokens = num_tokens,
                        .num_heads = c.num_heads,
                        .num_kv_heads = c.num_kv_heads,
                        .head_dim = d,
                        .block_size = c.block_size,
                        .max_blocks_per_seq = max_blocks,
                        .scale = scale});
  const std::vector<Bits> out = to_host<Bits>(d_out, out_elements, stream.get());

  // max |v| over each sequence's visible rows per kv head bounds the weight-rounding error.
  const int64_t group = c.num_heads / c.num_kv_heads;
  double error_squares = 0.0;
  double reference_squares = 0.0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    std::vector<float> max_v(static_cast<size_t>(c.num_kv_heads), 0.0F);
    for (int32_t j = 0; j < kv_lens[static_cast<size_t>(s)]; ++j) {
      const int64_t block = block_tables[static_cast<size_t>(s * max_blocks + j / c.block_size)];
      const int64_t slot = block * c.block_size + j % c.block_size;
      for (int64_t h = 0; h < c.num_kv_heads; ++h) {
        for (int64_t i = 0; i < d; ++i) {
          max_v[static_cast<size_t>(h)] = std::max(
              max_v[static_cast<size_t>(h)],
              std::abs(
                  CE::to_f32(v_cache[static_cast<size_t>((slot * c.num_kv_heads + h) * d + i)])));
        }
      }
    }
    for (int32_t t = query_start_loc[static_cast<size_t>(s)];
         t < query_start_loc[static_cast<size_t>(s + 1)]; ++t) {
      for (int64_t h = 0; h < c.num_heads; ++h) {
        for (int64_t i = 0; i < d; ++i) {
          const size_t index = static_cast<size_t>((t * c.num_heads + h) * d + i);
          const float e = expected.data<float>()[index];
          const float a = E::to_f32(out[index]);
          const float tolerance =
              element_tolerance * (max_v[static_cast<size_t>(h / group)] + std::abs(e)) +
              (kF32 ? 1e-7F : 1e-6F);
          ASSERT_NEAR(a, e, tolerance)
              << "seq " << s << " token " << t << " head " << h << " dim " << i;
          error_squares += static_cast<double>(a - e) * (a - e);
          reference_squares += static_cast<double>(e) * e;
        }
      }
    }
  }
  EXPECT_LT(std::sqrt(error_squares / std::max(reference_squares, 1e-30)), l2_tolerance);
  for (size_t i = static_cast<size_t>(real_tokens * q_width); i < out_elements; ++i) {
    ASSERT_EQ(out[i], E::kPoison) << "padding row written at element " << i;
  }
}

// An e4m3 cache is read exactly: sequences of one query row over one cached position (softmax
// weight exactly 1, so out = v exactly), with the V rows read cycling through all 254 finite e4m3
// codes (subnormals, ±0 and ±448 included) and random K. Every output element must equal its
// code's value (compared as values: -0 may come out as +0).
inline void check_e4m3_cache_reads_exactly(
    int64_t head_dim,
    const std::function<void(cudaStream_t, const cuda::PagedAttentionArgsFp8&)>& kernel) {
  SCOPED_TRACE("e4m3 exact read, head_dim " + std::to_string(head_dim));
  constexpr int64_t kNumHeads = 8;
  constexpr int64_t kNumKvHeads = 2;
  constexpr int64_t kBlockSize = 16;
  const int64_t num_seqs = (2 * 254 + kNumKvHeads * head_dim - 1) / (kNumKvHeads * head_dim) + 1;
  const int64_t num_blocks = num_seqs;
  const int64_t row = kNumKvHeads * head_dim;
  std::mt19937 rng(17);
  std::vector<uint8_t> k_cache =
      random_elems<Fp8Elem>(static_cast<size_t>(num_blocks * kBlockSize * row), rng);
  std::vector<uint8_t> v_cache(k_cache.size(), 0);
  int code = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {  // sequence s reads slot s * kBlockSize
    for (int64_t i = 0; i < row; ++i) {
      while ((code & 0x7f) == 0x7f) {
        code = (code + 1) % 256;
      }
      v_cache[static_cast<size_t>(s * kBlockSize * row + i)] = static_cast<uint8_t>(code);
      code = (code + 1) % 256;
    }
  }
  std::vector<int32_t> query_start_loc;
  std::vector<int32_t> kv_lens(static_cast<size_t>(num_seqs), 1);
  std::vector<int32_t> block_tables;
  for (int64_t s = 0; s <= num_seqs; ++s) {
    query_start_loc.push_back(static_cast<int32_t>(s));
  }
  for (int64_t s = 0; s < num_seqs; ++s) {
    block_tables.push_back(static_cast<int32_t>(s));
  }
  const int64_t q_width = kNumHeads * head_dim;
  const std::vector<uint16_t> q =
      random_elems<Bf16Elem>(static_cast<size_t>(num_seqs * q_width), rng);
  cuda::Stream stream;
  const cuda::DeviceBuffer d_q = to_device(q, stream.get());
  const cuda::DeviceBuffer d_k = to_device(k_cache, stream.get());
  const cuda::DeviceBuffer d_v = to_device(v_cache, stream.get());
  const cuda::DeviceBuffer d_starts = to_device(query_start_loc, stream.get());
  const cuda::DeviceBuffer d_kv_lens = to_device(kv_lens, stream.get());
  const cuda::DeviceBuffer d_tables = to_device(block_tables, stream.get());
  const cuda::DeviceBuffer d_out =
      to_device(std::vector<uint16_t>(q.size(), kPoisonBf16), stream.get());
  kernel(stream.get(), {.out = elem_ptr<Bf16Elem>(d_out),
                        .q = elem_ptr<Bf16Elem>(d_q),
                        .k_cache = elem_ptr<Fp8Elem>(d_k),
                        .v_cache = elem_ptr<Fp8Elem>(d_v),
                        .query_start_loc = d_starts.as<int32_t>(),
                        .kv_lens = d_kv_lens.as<int32_t>(),
                        .block_tables = d_tables.as<int32_t>(),
                        .num_seqs = num_seqs,
                        .num_tokens = num_seqs,
                        .num_heads = kNumHeads,
                        .num_kv_heads = kNumKvHeads,
                        .head_dim = head_dim,
                        .block_size = kBlockSize,
                        .max_blocks_per_seq = 1,
                        .scale = 1.0F / std::sqrt(static_cast<float>(head_dim))});
  const std::vector<uint16_t> out = to_host<uint16_t>(d_out, q.size(), stream.get());
  const int64_t group = kNumHeads / kNumKvHeads;
  for (int64_t s = 0; s < num_seqs; ++s) {
    for (int64_t h = 0; h < kNumHeads; ++h) {
      for (int64_t i = 0; i < head_dim; ++i) {
        const uint8_t c =
            v_cache[static_cast<size_t>(s * kBlockSize * row + (h / group) * head_dim + i)];
        ASSERT_EQ(bf16_to_f32(out[static_cast<size_t>((s * kNumHeads + h) * head_dim + i)]),
                  fp8_e4m3_to_f32(c))
            << "code 0x" << std::hex << static_cast<int>(c) << std::dec << " seq " << s << " head "
            << h << " dim " << i;
      }
    }
  }
}

// Shapes every attention kernel must handle: GQA ratios 4, 1, 6, 8, 16, head_dim 128 and 64,
// block sizes 16, 8 and 32, prefill chunks with kv_len > q_len, decodes (q_len 1), empty
// queries (q_len 0), tiles that end mid-block, and graph padding rows.
inline std::vector<AttentionCase> common_attention_cases() {
  return {
      {32,
       8,
       128,
       16,
       {{1, 1}, {5, 5}, {64, 64}, {100, 300}, {130, 130}, {1, 777}, {0, 50}, {17, 2000}}},
      {8, 8, 64, 16, {{200, 200}, {33, 97}, {1, 1}}, 3},
      {12, 2, 128, 32, {{70, 70}, {65, 129}, {2, 1030}}},
      {4, 1, 64, 8, {{129, 1000}, {3, 3}}},
      {64, 8, 128, 16, {{1, 4100}, {4, 4}, {3, 600}}},  // group 8 (70B-like)
      {16, 1, 64, 16, {{9, 300}, {1, 65}}},             // group 16
  };
}

}  // namespace swiftkv::testing
