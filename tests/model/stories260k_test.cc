// stories260K end to end: the golden greedy continuation, and SwiftKV's exactness contracts
// (skip == no-skip, `--swiftkv off` == the base model) on real pretrained weights.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "engine/generator.h"
#include "engine/sampler.h"
#include "engine/single_sequence_cache.h"
#include "test_models.h"

namespace swiftkv {
namespace {

using testing::load;
using testing::max_relative_error;

// Greedy decoding with the raw model API (no tokenizer), run.c semantics: start from BOS.
std::vector<int32_t> greedy_from_bos(const LlamaModel& model, const ops::Context& ctx, int steps) {
  const SingleSequenceCache cache(model, steps + 1);
  std::vector<int32_t> out;
  int32_t token = 1;
  for (int pos = 0; pos < steps; ++pos) {
    const int32_t input[1] = {token};
    const Tensor logits = model.forward(ctx, cache.make_batch(input, pos, 1), cache.cache());
    token = argmax({logits.data<const float>(), static_cast<size_t>(logits.dim(1))});
    out.push_back(token);
  }
  return out;
}

std::vector<int32_t> random_prompt(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> token(3, 511);
  std::vector<int32_t> ids = {1};
  while (static_cast<int>(ids.size()) < n) {
    ids.push_back(token(rng));
  }
  return ids;
}

class Stories260K : public ::testing::Test {
 protected:
  ThreadPool pool_{2};
  ops::Context fast_{.backend = ops::Backend::kCpu, .pool = &pool_};
  ops::Context reference_{.backend = ops::Backend::kReference, .pool = nullptr};
};

TEST_F(Stories260K, GreedyFromBosMatchesGolden256) {
  const auto model = load(testing::stories260k_dir(), SwiftKVMode::kOn);
  const std::vector<int32_t> expected = testing::stories260k_expected_greedy();
  ASSERT_EQ(expected.size(), 256U);
  EXPECT_EQ(greedy_from_bos(*model, fast_, 256), expected);
  EXPECT_EQ(greedy_from_bos(*model, reference_, 256), expected);
}

TEST_F(Stories260K, FastOpsMatchReferenceLogits) {
  const auto model = load(testing::stories260k_dir(), SwiftKVMode::kOn);
  const std::vector<int32_t> prompt = random_prompt(70, 3);
  const Tensor fast = compute_prompt_logits(*model, fast_, prompt, 64);
  const Tensor ref = compute_prompt_logits(*model, reference_, prompt, 64);
  // f32 everywhere; only summation order differs (BLAS vs plain loops).
  EXPECT_LT(max_relative_error(fast, ref), 1e-5);
}

struct SwiftKVCase {
  int64_t num_kv_layers;
  int64_t group_size;
};

class Stories260KSwiftKV : public Stories260K, public ::testing::WithParamInterface<SwiftKVCase> {};

// Skip (prompt rows stop at layer l) and no-skip (every row through every layer) compute the
// same SwiftKV model: logits agree to f32 rounding (the same ops on the same rows; only GEMM
// blocking over a different number of rows differs), with whole-prompt and chunked prefill.
TEST_P(Stories260KSwiftKV, SkipMatchesNoSkip) {
  const auto [l, g] = GetParam();
  const std::string dir = testing::stories260k_swiftkv_dir(l, g);
  const auto skip = load(dir, SwiftKVMode::kOn);
  const auto no_skip = load(dir, SwiftKVMode::kNoSkip);
  ASSERT_TRUE(skip->swiftkv_active());
  EXPECT_EQ(skip->num_cache_layers(), l + (5 - l) / g);
  const std::vector<int32_t> prompt = random_prompt(75, static_cast<uint32_t>(l * 10 + g));
  const Tensor expected = compute_prompt_logits(*no_skip, fast_, prompt, 75);

  // Only the last row of each prefill needs logits in skip mode: compare per-chunk last rows
  // through the generator's path (num_logits = 1) and all rows (num_logits = all).
  const Tensor all_rows = compute_prompt_logits(*skip, fast_, prompt, 75);
  EXPECT_LT(max_relative_error(all_rows, expected), 1e-5);
  const Tensor chunked = compute_prompt_logits(*skip, fast_, prompt, 16);
  EXPECT_LT(max_relative_error(chunked, expected), 1e-5);

  const SingleSequenceCache cache(*skip, 80);
  const Tensor last = skip->forward(fast_, cache.make_batch(prompt, 0, 1), cache.cache());
  const Tensor expected_last = expected.rows(74, 75);
  EXPECT_LT(max_relative_error(last, expected_last), 1e-5);
  // Decode after a prompt whose later layers were skipped: the cache must be complete.
  const int32_t next[1] = {42};
  const Tensor decode = skip->forward(fast_, cache.make_batch(next, 75, 1), cache.cache());
  std::vector<int32_t> extended = prompt;
  extended.push_back(42);
  const Tensor expected_decode = compute_prompt_logits(*no_skip, fast_, extended, 76).rows(75, 76);
  EXPECT_LT(max_relative_error(decode, expected_decode), 1e-5);
}

// `--swiftkv off` on a SwiftKV checkpoint is the base model, bit for bit.
TEST_P(Stories260KSwiftKV, OffReproducesTheBaseModelExactly) {
  const auto [l, g] = GetParam();
  const auto off = load(testing::stories260k_swiftkv_dir(l, g), SwiftKVMode::kOff);
  const auto base = load(testing::stories260k_dir(), SwiftKVMode::kOn);
  EXPECT_FALSE(off->swiftkv_active());
  const std::vector<int32_t> prompt = random_prompt(40, 9);
  const Tensor a = compute_prompt_logits(*off, fast_, prompt, 40);
  const Tensor b = compute_prompt_logits(*base, fast_, prompt, 40);
  EXPECT_EQ(max_relative_error(a, b), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Layers, Stories260KSwiftKV,
                         ::testing::Values(SwiftKVCase{2, 1}, SwiftKVCase{3, 1}, SwiftKVCase{4, 1},
                                           SwiftKVCase{1, 2}, SwiftKVCase{3, 2}),
                         [](const auto& test_info) {
                           return str_cat("l", test_info.param.num_kv_layers, "_g",
                                          test_info.param.group_size);
                         });

// With G = 1 the undistilled student copies the teacher's projections and norm_swiftkv is
// layer l's input norm, so with l = L - 1 it computes exactly the teacher's function; with a
// smaller l the later layers' K/V come from x_l instead of x_j and the logits change.
TEST_F(Stories260K, UndistilledStudentAtLastLayerIsTheTeacher) {
  const auto teacher = load(testing::stories260k_dir(), SwiftKVMode::kOn);
  const std::vector<int32_t> prompt = random_prompt(30, 5);
  const Tensor t = compute_prompt_logits(*teacher, fast_, prompt, 30);
  const auto last_layer = load(testing::stories260k_swiftkv_dir(4, 1), SwiftKVMode::kOn);
  EXPECT_LT(max_relative_error(compute_prompt_logits(*last_layer, fast_, prompt, 30), t), 1e-5);
  const auto rewired = load(testing::stories260k_swiftkv_dir(2, 1), SwiftKVMode::kOn);
  EXPECT_GT(max_relative_error(compute_prompt_logits(*rewired, fast_, prompt, 30), t), 1e-3);
}

}  // namespace
}  // namespace swiftkv
