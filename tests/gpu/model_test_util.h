// Helpers shared by the GPU model tests (model_cuda_test, tensor_parallel_cuda_test): where the
// stories260K data lives on the GPU machine, the golden greedy output, batch construction with
// fixed blocks per sequence, and logit comparisons. Tolerances: model_cuda_test.cc's header.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"
#include "model/batch.h"
#include "model/convert.h"

namespace swiftkv::gpu_test {

inline constexpr double kBf16Tolerance = 3e-2;
inline constexpr double kF32Tolerance = 1e-5;

inline std::string gpu_data_dir() {
  const char* env = std::getenv("SWIFTKV_GPU_DATA");
  return env != nullptr ? env : std::string(SWIFTKV_SOURCE_DIR) + "/.gpu-data";
}

// The Hugging Face directory of stories260K: $SWIFTKV_GPU_DATA/stories260K when present (made
// with `swiftkv convert --llama2c`), else converted here from $SWIFTKV_GPU_DATA/stories260K.bin.
inline const std::string& stories_dir() {
  static const std::string dir = [] {
    const std::string given = gpu_data_dir() + "/stories260K";
    if (std::filesystem::exists(given + "/config.json")) {
      return given;
    }
    const std::string out = (std::filesystem::temp_directory_path() /
                             ("swiftkv-gpu-test-" + std::to_string(::getpid()) + "-stories260K"))
                                .string();
    convert_llama2c_model(gpu_data_dir() + "/stories260K.bin", out, DType::kF32, true);
    return out;
  }();
  return dir;
}

inline std::vector<int32_t> expected_greedy() {
  const auto json =
      nlohmann::json::parse(read_file(gpu_data_dir() + "/expected_greedy_bos_256.json"));
  return json.at("sampled_ids").get<std::vector<int32_t>>();
}

inline double max_relative_error(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  double max_diff = 0.0;
  double max_ref = 0.0;
  for (int64_t i = 0; i < std::min(actual.numel(), expected.numel()); ++i) {
    const double a = actual.data<const float>()[i];
    const double e = expected.data<const float>()[i];
    max_diff = std::max(max_diff, std::isnan(a) ? INFINITY : std::abs(a - e));
    max_ref = std::max(max_ref, std::abs(e));
  }
  return max_ref == 0.0 ? max_diff : max_diff / max_ref;
}

inline int32_t argmax_row(const Tensor& logits, int64_t row) {
  const float* p = logits.data<const float>() + row * logits.dim(1);
  return static_cast<int32_t>(std::max_element(p, p + logits.dim(1)) - p);
}

// Sequences with fixed blocks: sequence s owns blocks [s * blocks_per_seq, ...).
struct Batcher {
  int64_t blocks_per_seq;
  int64_t block_size = 16;

  struct Seq {
    int64_t seq;                  // which sequence (its blocks)
    std::vector<int32_t> tokens;  // new tokens
    int32_t start;                // position of the first
    int32_t num_logits;
  };

  BatchView make(const std::vector<Seq>& seqs) const {
    std::vector<int32_t> ids, positions, slots, starts = {0}, kv_lens, tables, logits;
    for (const Seq& s : seqs) {
      for (size_t i = 0; i < s.tokens.size(); ++i) {
        const int32_t pos = s.start + static_cast<int32_t>(i);
        ids.push_back(s.tokens[i]);
        positions.push_back(pos);
        slots.push_back(static_cast<int32_t>(
            (s.seq * blocks_per_seq + pos / block_size) * block_size + pos % block_size));
      }
      starts.push_back(static_cast<int32_t>(ids.size()));
      kv_lens.push_back(s.start + static_cast<int32_t>(s.tokens.size()));
      for (int64_t b = 0; b < blocks_per_seq; ++b) {
        tables.push_back(static_cast<int32_t>(s.seq * blocks_per_seq + b));
      }
      logits.push_back(s.num_logits);
    }
    const auto n = static_cast<int64_t>(ids.size());
    const auto num_seqs = static_cast<int64_t>(seqs.size());
    BatchView batch;
    batch.token_ids = Tensor::from_i32({n}, ids);
    batch.positions = Tensor::from_i32({n}, positions);
    batch.slot_mapping = Tensor::from_i32({n}, slots);
    batch.attention.query_start_loc = Tensor::from_i32({num_seqs + 1}, starts);
    batch.attention.kv_lens = Tensor::from_i32({num_seqs}, kv_lens);
    batch.attention.block_tables = Tensor::from_i32({num_seqs, blocks_per_seq}, tables);
    batch.num_logits = Tensor::from_i32({num_seqs}, logits);
    return batch;
  }
  BatchView one(const std::vector<int32_t>& tokens, int32_t start, int32_t num_logits,
                int64_t seq = 0) const {
    return make({{seq, tokens, start, num_logits}});
  }
};

inline std::vector<int32_t> random_tokens(int n, uint32_t seed, int32_t vocab) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, vocab - 1);
  std::vector<int32_t> ids = {1};
  while (static_cast<int>(ids.size()) < n) {
    ids.push_back(token(rng));
  }
  return ids;
}

}  // namespace swiftkv::gpu_test
