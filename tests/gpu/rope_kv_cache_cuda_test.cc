// CUDA RoPE fused with the paged KV-cache write against the CPU references (ref::rope on q and
// k, then ref::write_kv_cache), with q/k/v as column slices of one fused QKV output, including
// SwiftKV's bulk write of several layers' K/V in one launch; caches in the model's dtype or, under
// bf16, e4m3 (each cached value must be exactly the host encoder's byte for the bf16 value).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "cuda_test_util.h"
#include "kernels/cpu/rope.h"
#include "kernels/cuda/rope_kv_cache.h"

namespace swiftkv {
namespace {

using testing::elem_ptr;
using testing::to_device;
using testing::to_host;

// Llama 3 frequencies (transformers' _compute_llama3_parameters: factor 8, low_freq_factor 1,
// high_freq_factor 4, original_max_position_embeddings 8192), computed in f64, stored in f32.
std::vector<float> llama3_inv_freq(int64_t head_dim, double theta) {
  const double factor = 8.0;
  const double low_freq_wavelen = 8192.0 / 1.0;
  const double high_freq_wavelen = 8192.0 / 4.0;
  std::vector<float> inv_freq(static_cast<size_t>(head_dim / 2));
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double base =
        1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(head_dim));
    const double wavelen = 2.0 * M_PI / base;
    double scaled = base;
    if (wavelen > low_freq_wavelen) {
      scaled = base / factor;
    } else if (wavelen >= high_freq_wavelen) {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      scaled = (1.0 - smooth) * base / factor + smooth * base;
    }
    inv_freq[static_cast<size_t>(i)] = static_cast<float>(scaled);
  }
  return inv_freq;
}

struct RopeCase {
  int64_t num_tokens;
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t head_dim;
  int64_t block_size;
  bool write_cache;
  int64_t num_layers = 1;  // > 1: SwiftKV's bulk write, rows q | k_0 v_0 | k_1 v_1 | ...
  float stddev = 1.0F;     // of the random q, k, v (100: beyond e4m3's 448 after rotation)
};

void launch(cudaStream_t stream, const cuda::RopeKvCacheArgs& args) {
  cuda::rope_write_kv_cache_bf16(stream, args);
}
void launch(cudaStream_t stream, const cuda::RopeKvCacheArgsFp8& args) {
  cuda::rope_write_kv_cache_bf16(stream, args);
}
void launch(cudaStream_t stream, const cuda::RopeKvCacheArgsT<float>& args) {
  cuda::rope_write_kv_cache_f32(stream, args);
}

// E: the element type of q, k, v; CE: that of the caches (E, or Fp8Elem under Bf16Elem).
template <typename E, typename CE = E>
void run_case(const RopeCase& c, uint32_t seed) {
  using Bits = typename E::Bits;
  using CacheBits = typename CE::Bits;
  SCOPED_TRACE(::testing::Message() << "tokens=" << c.num_tokens << " heads=" << c.num_heads << "/"
                                    << c.num_kv_heads << " head_dim=" << c.head_dim
                                    << " layers=" << c.num_layers << " stddev=" << c.stddev);
  std::mt19937 rng(seed);
  const int64_t tokens = c.num_tokens;
  const int64_t d = c.head_dim;
  const int64_t layers = c.num_layers;
  const int64_t q_width = c.num_heads * d;
  const int64_t kv_width = c.num_kv_heads * d;
  const int64_t stride = q_width + layers * 2 * kv_width;  // fused [q | k_0 v_0 | ...] rows
  const std::vector<Bits> qkv =
      testing::random_elems<E>(static_cast<size_t>(tokens * stride), rng, c.stddev);
  std::uniform_int_distribution<int32_t> position_distribution(0, 131071);
  std::vector<int32_t> positions(static_cast<size_t>(tokens));
  for (int32_t& p : positions) {
    p = position_distribution(rng);
  }
  positions[0] = 0;
  const std::vector<float> inv_freq = llama3_inv_freq(d, 500000.0);

  // Cache: more slots than tokens, a shuffled slot per token, one token skipped (-1).
  const int64_t num_blocks = (tokens + c.block_size - 1) / c.block_size + 3;
  const int64_t num_slots = num_blocks * c.block_size;
  std::vector<int32_t> all_slots(static_cast<size_t>(num_slots));
  std::iota(all_slots.begin(), all_slots.end(), 0);
  std::shuffle(all_slots.begin(), all_slots.end(), rng);
  std::vector<int32_t> slot_mapping(all_slots.begin(), all_slots.begin() + tokens);
  if (tokens > 2) {
    slot_mapping[1] = -1;
  }

  // Expected: q and every layer's k rotated by the reference (f32 in, f64 rotation).
  const Tensor positions_tensor = testing::i32_tensor({tokens}, positions);
  const Tensor inv_freq_tensor = testing::f32_tensor({d / 2}, inv_freq);
  // Columns [column0, column0 + width) of every row, rotated as `heads` heads.
  const auto rotated = [&](int64_t column0, int64_t width, int64_t heads) {
    std::vector<float> x(static_cast<size_t>(tokens * width));
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t i = 0; i < width; ++i) {
        x[static_cast<size_t>(t * width + i)] =
            E::to_f32(qkv[static_cast<size_t>(t * stride + column0 + i)]);
      }
    }
    const Tensor expected = testing::f32_tensor({tokens, heads, d}, x);
    kernels::cpu::ref::rope(expected, positions_tensor, inv_freq_tensor);
    return expected;
  };
  const auto k_column = [&](int64_t layer) { return q_width + layer * 2 * kv_width; };
  const Tensor q_expected = rotated(0, q_width, c.num_heads);
  std::vector<Tensor> k_expected;
  for (int64_t layer = 0; layer < layers; ++layer) {
    k_expected.push_back(rotated(k_column(layer), kv_width, c.num_kv_heads));
  }

  // One allocation for every layer's cache, layers a little further apart than their size.
  const int64_t layer_stride = num_slots * kv_width + 2 * kv_width;
  cuda::Stream stream;
  const cuda::DeviceBuffer d_qkv = to_device(qkv, stream.get());
  const cuda::DeviceBuffer d_positions = to_device(positions, stream.get());
  const cuda::DeviceBuffer d_inv_freq = to_device(inv_freq, stream.get());
  const cuda::DeviceBuffer d_slots = to_device(slot_mapping, stream.get());
  const std::vector<CacheBits> poison(static_cast<size_t>(layers * layer_stride), CE::kPoison);
  const cuda::DeviceBuffer d_k_cache = to_device(poison, stream.get());
  const cuda::DeviceBuffer d_v_cache = to_device(poison, stream.get());
  typename E::Device* base = elem_ptr<E>(d_qkv);
  launch(stream.get(), cuda::RopeKvCacheArgsT<typename E::Device, typename CE::Device>{
                           .q = c.num_heads > 0 ? base : nullptr,
                           .q_stride = stride,
                           .k = base + q_width,
                           .v = base + q_width + kv_width,
                           .kv_stride = stride,
                           .k_cache = c.write_cache ? elem_ptr<CE>(d_k_cache) : nullptr,
                           .v_cache = c.write_cache ? elem_ptr<CE>(d_v_cache) : nullptr,
                           .slot_mapping = c.write_cache ? d_slots.as<int32_t>() : nullptr,
                           .positions = d_positions.as<int32_t>(),
                           .inv_freq = d_inv_freq.as<float>(),
                           .num_tokens = tokens,
                           .num_layers = layers,
                           .kv_layer_stride = 2 * kv_width,
                           .cache_layer_stride = layer_stride,
                           .num_heads = c.num_heads,
                           .num_kv_heads = c.num_kv_heads,
                           .head_dim = d});
  const std::vector<Bits> out = to_host<Bits>(d_qkv, qkv.size(), stream.get());
  const std::vector<CacheBits> k_cache = to_host<CacheBits>(d_k_cache, poison.size(), stream.get());
  const std::vector<CacheBits> v_cache = to_host<CacheBits>(d_v_cache, poison.size(), stream.get());

  // Output rounded once to E (bf16: 2^-8 relative; f32: 2^-23 with slack); cosf/sinf on the GPU
  // and the host each err by <= 2 ulp of f32, i.e. <= 2^-22 absolute on values <= 1, times
  // |a| + |b| of the pair (the f32 rotation's own roundings are below that).
  auto check = [&](const Tensor& expected, int64_t column0, int64_t width, const char* what) {
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t i = 0; i < width; ++i) {
        const int64_t within = i % d;
        const int64_t partner = within < d / 2 ? i + d / 2 : i - d / 2;
        const float a = E::to_f32(qkv[static_cast<size_t>(t * stride + column0 + i)]);
        const float b = E::to_f32(qkv[static_cast<size_t>(t * stride + column0 + partner)]);
        const float e = expected.data<float>()[t * width + i];
        const float tolerance = std::abs(e) * E::kRounding + (std::abs(a) + std::abs(b)) * 0x1p-20F;
        ASSERT_NEAR(E::to_f32(out[static_cast<size_t>(t * stride + column0 + i)]), e, tolerance)
            << what << " t=" << t << " i=" << i << " position "
            << positions[static_cast<size_t>(t)];
      }
    }
  };
  if (c.num_heads > 0) {
    check(q_expected, 0, q_width, "q");
  }
  for (int64_t layer = 0; layer < layers; ++layer) {
    SCOPED_TRACE(layer);
    check(k_expected[static_cast<size_t>(layer)], k_column(layer), kv_width, "k");
    for (int64_t t = 0; t < tokens; ++t) {  // v is untouched
      for (int64_t i = 0; i < kv_width; ++i) {
        const size_t index = static_cast<size_t>(t * stride + k_column(layer) + kv_width + i);
        ASSERT_EQ(out[index], qkv[index]);
      }
    }
  }
  // Cache layer l holds, at each token's slot, exactly layer l's rotated k (the kernel's own
  // output) and v, converted to CE: the same bits for CE == E, the host encoder's e4m3 byte of
  // each bf16 value for an e4m3 cache. Every other slot, and the gaps between layers, are
  // untouched.
  const auto cached = [](Bits bits) { return CE::from_f32(E::to_f32(bits)); };
  std::vector<bool> written(static_cast<size_t>(layers * layer_stride), false);
  int64_t num_saturated = 0;
  if (c.write_cache) {
    for (int64_t layer = 0; layer < layers; ++layer) {
      for (int64_t t = 0; t < tokens; ++t) {
        const int32_t slot = slot_mapping[static_cast<size_t>(t)];
        if (slot < 0) {
          continue;
        }
        for (int64_t i = 0; i < kv_width; ++i) {
          const auto index = static_cast<size_t>(layer * layer_stride + slot * kv_width + i);
          written[index] = true;
          const Bits k = out[static_cast<size_t>(t * stride + k_column(layer) + i)];
          const Bits v = qkv[static_cast<size_t>(t * stride + k_column(layer) + kv_width + i)];
          ASSERT_EQ(k_cache[index], cached(k)) << "k layer " << layer << " t=" << t << " i=" << i;
          ASSERT_EQ(v_cache[index], cached(v)) << "v layer " << layer << " t=" << t << " i=" << i;
          num_saturated += (std::abs(E::to_f32(k)) > 448.0F) + (std::abs(E::to_f32(v)) > 448.0F);
        }
      }
    }
  }
  for (size_t index = 0; index < written.size(); ++index) {
    if (!written[index]) {
      ASSERT_EQ(k_cache[index], CE::kPoison) << "k cache element " << index << " written";
      ASSERT_EQ(v_cache[index], CE::kPoison) << "v cache element " << index << " written";
    }
  }
  if (c.stddev > 100.0F && c.write_cache) {
    EXPECT_GT(num_saturated, 0) << "the case meant to reach e4m3's saturation did not";
  }
}

template <typename E, typename CE = E>
void run_all_cases() {
  run_case<E, CE>({37, 32, 8, 128, 16, true}, 1);   // Llama-3.1-8B heads
  run_case<E, CE>({5, 4, 4, 64, 8, true}, 2);       // MHA, head_dim 64
  run_case<E, CE>({130, 12, 2, 128, 32, true}, 3);  // GQA ratio 6
  run_case<E, CE>({3, 6, 3, 8, 16, false}, 4);      // tiny head_dim, rotate only (no cache)
  run_case<E, CE>({9, 0, 2, 128, 16, true}, 5);     // K/V only (SwiftKV's later-layer pass)
  run_case<E, CE>({11, 8, 4, 8, 16, true}, 6);      // stories260K's heads (head_dim 8)
  // SwiftKV's bulk write: 3 group leaders' K/V in one launch (8B heads), and 2 layers at
  // stories260K's head_dim with q rotated once.
  run_case<E, CE>({21, 0, 8, 128, 16, true, 3}, 7);
  run_case<E, CE>({13, 8, 4, 8, 16, true, 2}, 8);
  // Values up to ~±500: the e4m3 write saturates some to ±448.
  run_case<E, CE>({17, 4, 2, 64, 16, true, 2, 150.0F}, 9);
}

TEST(CudaRopeKvCache, MatchesCpuReference) { run_all_cases<testing::Bf16Elem>(); }

TEST(CudaRopeKvCache, F32MatchesCpuReference) { run_all_cases<testing::F32Elem>(); }

TEST(CudaRopeKvCache, Fp8CacheHoldsTheHostEncodingOfTheBf16Values) {
  run_all_cases<testing::Bf16Elem, testing::Fp8Elem>();
}

}  // namespace
}  // namespace swiftkv
