// decode_attention_rope_bf16 (RoPE and the cache write fused into the decode kernel) against what
// it replaces, rope_write_kv_cache_bf16 followed by decode_attention_bf16: the same output and
// the same caches, bit for bit, on random data. The pair itself is checked against the CPU
// references by the RoPE and decode attention tests.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cuda/decode_attention.h"
#include "kernels/cuda/rope_kv_cache.h"

namespace swiftkv {
namespace {

using testing::Bf16Elem;
using testing::elem_ptr;
using testing::to_device;
using testing::to_host;

struct FusedCase {
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t head_dim;
  int64_t block_size;
  int32_t kv_len;      // the row's position is kv_len - 1
  int num_splits;      // 0: the library's choice
  bool own_kv = true;  // false: q only (SwiftKV's later layers), the cache holds the row already
};

// Decode attention outputs and caches of one run.
struct Result {
  std::vector<uint16_t> out;
  std::vector<uint16_t> k_cache;
  std::vector<uint16_t> v_cache;
};

void run_case(const FusedCase& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message()
               << "heads " << c.num_heads << "/" << c.num_kv_heads << " head_dim " << c.head_dim
               << " block " << c.block_size << " kv_len " << c.kv_len << " splits " << c.num_splits
               << (c.own_kv ? "" : " q only"));
  std::mt19937 rng(seed);
  const int64_t d = c.head_dim;
  const int64_t q_width = c.num_heads * d;
  const int64_t kv_width = c.num_kv_heads * d;
  const int64_t row_width = q_width + (c.own_kv ? 2 * kv_width : 0);
  const int64_t blocks = (c.kv_len + c.block_size - 1) / c.block_size;
  const int64_t num_blocks = blocks + 3;  // spare blocks nobody owns
  std::vector<int32_t> physical(static_cast<size_t>(num_blocks));
  std::iota(physical.begin(), physical.end(), 0);
  std::shuffle(physical.begin(), physical.end(), rng);
  const std::vector<int32_t> block_table(physical.begin(), physical.begin() + blocks);
  const int32_t position = c.kv_len - 1;
  const int32_t slot = block_table[static_cast<size_t>(position / c.block_size)] *
                           static_cast<int32_t>(c.block_size) +
                       position % static_cast<int32_t>(c.block_size);
  std::vector<float> inv_freq(static_cast<size_t>(d / 2));
  for (int64_t i = 0; i < d / 2; ++i) {
    inv_freq[static_cast<size_t>(i)] = static_cast<float>(
        std::pow(500000.0, -2.0 * static_cast<double>(i) / static_cast<double>(d)));
  }
  const std::vector<uint16_t> qkv = testing::random_bf16(static_cast<size_t>(row_width), rng);
  const size_t cache_elements = static_cast<size_t>(num_blocks * c.block_size * kv_width);
  const std::vector<uint16_t> k_cache = testing::random_bf16(cache_elements, rng);
  const std::vector<uint16_t> v_cache = testing::random_bf16(cache_elements, rng);
  const int num_splits =
      c.num_splits > 0 ? c.num_splits : cuda::decode_attention_num_splits(1, c.num_kv_heads);
  const size_t workspace_bytes =
      cuda::decode_attention_workspace_bytes(1, c.num_heads, c.num_kv_heads, d, num_splits);

  cuda::Stream stream;
  const cuda::DeviceBuffer d_starts = to_device(std::vector<int32_t>{0, 1}, stream.get());
  const cuda::DeviceBuffer d_kv_lens = to_device(std::vector<int32_t>{c.kv_len}, stream.get());
  const cuda::DeviceBuffer d_table = to_device(block_table, stream.get());
  const cuda::DeviceBuffer d_positions = to_device(std::vector<int32_t>{position}, stream.get());
  const cuda::DeviceBuffer d_slots = to_device(std::vector<int32_t>{slot}, stream.get());
  const cuda::DeviceBuffer d_inv_freq = to_device(inv_freq, stream.get());
  const cuda::DeviceBuffer workspace(workspace_bytes);
  cuda::clear_decode_attention_workspace(stream.get(), workspace.data(), workspace_bytes);

  const auto run = [&](bool fused) {
    const cuda::DeviceBuffer d_qkv = to_device(qkv, stream.get());
    const cuda::DeviceBuffer d_k = to_device(k_cache, stream.get());
    const cuda::DeviceBuffer d_v = to_device(v_cache, stream.get());
    const cuda::DeviceBuffer d_out = to_device(
        std::vector<uint16_t>(static_cast<size_t>(q_width), testing::kPoisonBf16), stream.get());
    const cuda::PagedAttentionArgs args{.out = elem_ptr<Bf16Elem>(d_out),
                                        .q = elem_ptr<Bf16Elem>(d_qkv),
                                        .q_stride = row_width,
                                        .k_cache = elem_ptr<Bf16Elem>(d_k),
                                        .v_cache = elem_ptr<Bf16Elem>(d_v),
                                        .query_start_loc = d_starts.as<int32_t>(),
                                        .kv_lens = d_kv_lens.as<int32_t>(),
                                        .block_tables = d_table.as<int32_t>(),
                                        .num_seqs = 1,
                                        .num_tokens = 1,
                                        .num_heads = c.num_heads,
                                        .num_kv_heads = c.num_kv_heads,
                                        .head_dim = d,
                                        .block_size = c.block_size,
                                        .max_blocks_per_seq = blocks,
                                        .scale = 1.0F / std::sqrt(static_cast<float>(d))};
    if (fused) {
      cuda::decode_attention_rope_bf16(stream.get(), args,
                                       {.positions = d_positions.as<int32_t>(),
                                        .inv_freq = d_inv_freq.as<float>(),
                                        .kv_column = c.own_kv ? q_width : -1},
                                       num_splits, workspace.data(), workspace_bytes);
    } else {
      auto* row = elem_ptr<Bf16Elem>(d_qkv);
      cuda::rope_write_kv_cache_bf16(stream.get(),
                                     {.q = row,
                                      .q_stride = row_width,
                                      .k = c.own_kv ? row + q_width : nullptr,
                                      .v = c.own_kv ? row + q_width + kv_width : nullptr,
                                      .kv_stride = row_width,
                                      .k_cache = c.own_kv ? elem_ptr<Bf16Elem>(d_k) : nullptr,
                                      .v_cache = c.own_kv ? elem_ptr<Bf16Elem>(d_v) : nullptr,
                                      .slot_mapping = c.own_kv ? d_slots.as<int32_t>() : nullptr,
                                      .positions = d_positions.as<int32_t>(),
                                      .inv_freq = d_inv_freq.as<float>(),
                                      .num_tokens = 1,
                                      .num_heads = c.num_heads,
                                      .num_kv_heads = c.own_kv ? c.num_kv_heads : 0,
                                      .head_dim = d});
      cuda::decode_attention_bf16(stream.get(), args, num_splits, workspace.data(),
                                  workspace_bytes);
    }
    return Result{to_host<uint16_t>(d_out, static_cast<size_t>(q_width), stream.get()),
                  to_host<uint16_t>(d_k, cache_elements, stream.get()),
                  to_host<uint16_t>(d_v, cache_elements, stream.get())};
  };
  const Result expected = run(false);
  const Result fused = run(true);
  for (size_t i = 0; i < expected.out.size(); ++i) {
    ASSERT_EQ(fused.out[i], expected.out[i]) << "output element " << i;
  }
  EXPECT_TRUE(fused.k_cache == expected.k_cache) << "k caches differ";
  EXPECT_TRUE(fused.v_cache == expected.v_cache) << "v caches differ";
  if (c.own_kv) {  // the row really was written (random data never matches by chance)
    const size_t at = static_cast<size_t>(slot * kv_width);
    EXPECT_NE(fused.v_cache[at], v_cache[at]);
  }
}

TEST(CudaDecodeAttentionRope, EqualsRopeKernelThenAttention) {
  uint32_t seed = 700;
  // The own row in a split's tile 0, 1, 2 and past the stages (long splits), at tile and block
  // boundaries, with one split, a few, and the library's choice (16 for 8 kv heads).
  for (const int32_t kv_len : {1, 2, 63, 64, 65, 128, 129, 193, 2049, 5000, 8192}) {
    for (const int splits : {0, 1, 3}) {
      run_case({32, 8, 128, 16, kv_len, splits}, seed++);
    }
  }
  run_case({32, 8, 128, 16, 2049, 0, false}, seed++);  // q only
  run_case({32, 8, 128, 16, 300, 1, false}, seed++);
  run_case({8, 2, 64, 8, 777, 0}, seed++);      // head_dim 64
  run_case({16, 1, 64, 32, 1000, 2}, seed++);   // group 16
  run_case({64, 8, 128, 16, 4100, 0}, seed++);  // group 8
  run_case({16, 1, 128, 16, 500, 0}, seed++);   // group 16 at head_dim 128: two units a thread
  run_case({16, 1, 128, 16, 500, 0, false}, seed++);
}

TEST(CudaDecodeAttentionRope, RejectsWhatItCannotRun) {
  const cuda::PagedAttentionArgs two_rows{
      .num_tokens = 2, .num_heads = 8, .num_kv_heads = 2, .head_dim = 64};
  EXPECT_THROW(cuda::decode_attention_rope_bf16(nullptr, two_rows, {}, 1, nullptr, 0),
               InternalError);
}

}  // namespace
}  // namespace swiftkv
