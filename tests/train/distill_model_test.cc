// The distillation pipeline on the real stories260K (../shared): the libtorch model computes
// the engine's logits (teacher and SwiftKV student, f32), and a short distillation (seconds)
// lowers the held-out KL, writes a checkpoint the engine loads, and resumes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "engine/generator.h"
#include "model/convert.h"
#include "model/test_models.h"
#include "model/weight_store.h"
#include "train/distill.h"
#include "train/torch_llama.h"

namespace swiftkv {
namespace {

namespace fs = std::filesystem;

// A prompt of real tokens: the golden greedy continuation from BOS.
std::vector<int32_t> sample_tokens(size_t n) {
  std::vector<int32_t> tokens = {1};
  const std::vector<int32_t> greedy = testing::stories260k_expected_greedy();
  tokens.insert(tokens.end(), greedy.begin(), greedy.begin() + static_cast<int64_t>(n - 1));
  return tokens;
}

void check_parity(int64_t l, int64_t g) {
  const std::string dir = testing::stories260k_swiftkv_dir(l, g);
  const ModelConfig config = ModelConfig::load(dir);
  const WeightStore store = WeightStore::open(dir);
  const ModelWeights weights = ModelWeights::from_store(config, store);
  NamedTensors swiftkv;
  for (const std::string& name : store.names()) {
    if (name.find("_swiftkv.") != std::string::npos) {
      swiftkv.emplace_back(name, store.get(name));
    }
  }
  const TorchLlama model(config, weights, swiftkv, TorchLlamaOptions{});
  const std::vector<int32_t> tokens = sample_tokens(96);
  const auto n = static_cast<int64_t>(tokens.size());
  TorchBatch batch;
  batch.tokens = torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end())).reshape({1, n});
  batch.positions = torch::arange(n).reshape({1, n});
  batch.segments = torch::zeros({1, n}, torch::kInt64);
  const TorchForward teacher = model.teacher_forward(batch);
  const torch::NoGradGuard no_grad;
  const TorchForward student = model.student_forward(batch, {});
  const ops::Context ctx{ops::Backend::kReference, nullptr};
  for (const auto& [mode, logits] : {std::pair{SwiftKVMode::kOff, teacher.logits},
                                     std::pair{SwiftKVMode::kOn, student.logits}}) {
    const auto engine = testing::load(dir, mode);
    const Tensor expected = compute_prompt_logits(*engine, ctx, tokens, 32);
    const Tensor actual = from_torch(logits.reshape({n, -1}), DType::kF32);
    // f32 with different summation orders over <= 172 terms: ~1e-6 relative per op; a few
    // layers compound it, so 1e-4 of the largest logit.
    EXPECT_LT(testing::max_relative_error(actual, expected), 1e-4)
        << "l=" << l << " G=" << g << " mode " << static_cast<int>(mode);
  }
}

TEST(TorchLlamaParityTest, MatchesEngineLogits) {
  check_parity(2, 1);
  check_parity(1, 2);
  check_parity(4, 1);
}

// First `n` paragraphs of the TinyStories excerpt as a text file.
std::string write_stories(const fs::path& dir, size_t begin, size_t n) {
  const std::string text = read_file(std::string(SWIFTKV_SHARED_DIR) +
                                     "/data/tinystories-valid/tinystories_val_head.txt");
  size_t pos = 0;
  for (size_t i = 0; i < begin; ++i) {
    pos = text.find("\n\n", pos) + 2;
  }
  size_t end = pos;
  for (size_t i = 0; i < n; ++i) {
    end = text.find("\n\n", end) + 2;
  }
  const fs::path path = dir / ("stories-" + std::to_string(begin) + ".txt");
  write_file(path.string(), text.substr(pos, end - pos));
  return path.string();
}

TEST(DistillStoriesTest, ShortDistillationLowersHeldOutKlAndResumes) {
  const fs::path dir =
      fs::temp_directory_path() / ("swiftkv-distill-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  DistillOptions options;
  options.model = testing::stories260k_dir();
  options.output = (dir / "out").string();
  options.data = {write_stories(dir, 0, 240)};
  options.eval_data = write_stories(dir, 600, 40);
  options.num_kv_layers = 2;
  options.max_length = 256;
  options.batch_size = 4;
  options.max_steps = 24;
  options.learning_rate = 3e-3;
  options.save_every = 12;
  options.threads = 1;  // libtorch's OpenMP threads spin badly on a loaded 2-core machine
  options.progress = false;
  const DistillResult result = run_distill(options);
  EXPECT_EQ(result.steps, 24);
  EXPECT_LT(result.final_held_out_kl, 0.8 * result.initial_held_out_kl);
  EXPECT_GT(result.final_top1, result.initial_top1);

  // The output is a SwiftKV checkpoint the engine serves, prompt tokens skipping layers >= l.
  const auto model = testing::load(options.output, SwiftKVMode::kOn);
  EXPECT_TRUE(model->swiftkv_active());
  EXPECT_EQ(model->config().num_key_value_layers, 2);
  EXPECT_TRUE(fs::exists(fs::path(options.output) / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(fs::path(options.output) / "loss_curve.svg"));
  EXPECT_TRUE(fs::exists(fs::path(options.output) / "checkpoint-12" / "trainer_state.pt"));

  // Resume from checkpoint-12 (remove the final one) gives the same final weights.
  fs::remove_all(fs::path(options.output) / "checkpoint-24");
  const std::string first = read_file((fs::path(options.output) / "model.safetensors").string());
  options.resume = true;
  const DistillResult resumed = run_distill(options);
  EXPECT_EQ(resumed.steps, 24);
  const std::string second = read_file((fs::path(options.output) / "model.safetensors").string());
  EXPECT_EQ(first, second);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace swiftkv
