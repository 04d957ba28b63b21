// `swiftkv bench distill` on CPU: TorchLlama::random initialises the SwiftKV parameters as
// init_swiftkv_tensors does (so with l = L - 1 the student is the teacher and the loss is 0),
// and a short benchmark of a random llama-100m reports sane numbers.
#include "train/distill_bench.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "train/distill_step.h"
#include "train/torch_llama.h"

namespace swiftkv {
namespace {

ModelConfig tiny_swiftkv_config(int64_t num_kv_layers, int64_t group_size) {
  ModelConfig c;
  c.vocab_size = 40;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 5;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 64;
  c.rms_norm_eps = 1e-5;
  c.architecture = Architecture::kLlamaSwiftKV;
  c.swiftkv = true;
  c.num_key_value_layers = num_kv_layers;
  c.key_value_group_size = group_size;
  c.validate();
  return c;
}

TEST(TorchLlamaRandom, InitialisesSwiftKVParametersFromTheFrozenWeights) {
  const ModelConfig config = tiny_swiftkv_config(1, 2);
  const auto model = TorchLlama::random(config, 7, TorchLlamaOptions{});
  // frozen_parameters(): embed, norm, lm_head (untied), then 9 per layer: input_layernorm,
  // q, k, v, o, post_attention_layernorm, gate, up, down.
  const std::vector<torch::Tensor> frozen = model->frozen_parameters();
  ASSERT_EQ(frozen.size(), 3U + 9U * 5U);
  const auto layer = [&](int64_t j, int64_t which) { return frozen[3 + 9 * j + which]; };
  for (const torch::Tensor& t : frozen) {
    EXPECT_FALSE(t.requires_grad());
  }
  // Trainable: norm_swiftkv, then q of layers 1-4 and k/v of the leaders 1 and 3 (G = 2).
  const auto& trainable = model->trainable();
  ASSERT_EQ(trainable.size(), 1U + 4U + 4U);
  for (const auto& [name, param] : trainable) {
    EXPECT_TRUE(param.requires_grad()) << name;
    EXPECT_EQ(param.scalar_type(), torch::kFloat32) << name;
  }
  const auto param = [&](const std::string& name) {
    for (const auto& [n, p] : trainable) {
      if (n == name) {
        return p.detach();
      }
    }
    ADD_FAILURE() << "no trainable " << name;
    return torch::Tensor();
  };
  const std::string prefix = "model.layers.";
  EXPECT_TRUE(torch::equal(param("model.norm_swiftkv.weight"), layer(1, 0)));
  for (int64_t j = 1; j < 5; ++j) {
    const std::string p = prefix + std::to_string(j) + ".self_attn.";
    EXPECT_TRUE(torch::equal(param(p + "q_proj_swiftkv.weight"), layer(j, 1))) << j;
  }
  for (const int64_t leader : {1, 3}) {
    const std::string p = prefix + std::to_string(leader) + ".self_attn.";
    EXPECT_TRUE(torch::allclose(param(p + "k_proj_swiftkv.weight"),
                                (layer(leader, 2) + layer(leader + 1, 2)) / 2));
    EXPECT_TRUE(torch::allclose(param(p + "v_proj_swiftkv.weight"),
                                (layer(leader, 3) + layer(leader + 1, 3)) / 2));
  }
  // The same seed gives the same weights; another seed others.
  const auto again = TorchLlama::random(config, 7, TorchLlamaOptions{});
  const auto other = TorchLlama::random(config, 8, TorchLlamaOptions{});
  EXPECT_TRUE(torch::equal(frozen[0], again->frozen_parameters()[0]));
  EXPECT_FALSE(torch::equal(frozen[0], other->frozen_parameters()[0]));
}

TEST(TorchLlamaRandom, StudentEqualsTeacherWithOneSwiftKVLayer) {
  const ModelConfig config = tiny_swiftkv_config(4, 1);
  const auto model = TorchLlama::random(config, 3, TorchLlamaOptions{});
  const auto ints = torch::TensorOptions().dtype(torch::kInt64);
  const TorchBatch batch{torch::randint(config.vocab_size, {2, 12}, ints),
                         torch::arange(12, ints).unsqueeze(0).expand({2, 12}).contiguous(),
                         torch::zeros({2, 12}, ints)};
  const torch::NoGradGuard no_grad;
  const TorchForward teacher = model->teacher_forward(batch);
  const TorchForward student = model->student_forward(batch, teacher.swiftkv_input);
  EXPECT_TRUE(torch::allclose(student.logits, teacher.logits, 1e-5, 1e-6));
}

// ||a - b|| / ||b|| over all elements, in f32.
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor x = a.detach().to(torch::kCPU, torch::kFloat32);
  const torch::Tensor y = b.detach().to(torch::kCPU, torch::kFloat32);
  return (x - y).norm().item<double>() / y.norm().item<double>();
}

// On CUDA with libtorch >= 2 (the GPU machine) attention runs through
// scaled_dot_product_attention; it must compute what the eager path computes, in the bf16
// training setup (f32 SwiftKV parameters, bf16 matmuls, checkpointed later layers), on a packed
// batch: one row with two documents and padding. Teacher and student logits and every
// trainable gradient are compared. Skipped where CUDA is not available (CPU CI).
TEST(TorchLlamaCuda, FusedAttentionMatchesEager) {
  if (!torch::cuda::is_available()) {
    GTEST_SKIP() << "no CUDA device for libtorch";
  }
  ModelConfig config = tiny_swiftkv_config(2, 1);
  config.vocab_size = 96;
  config.hidden_size = 128;
  config.intermediate_size = 192;
  config.num_attention_heads = 8;
  config.num_key_value_heads = 2;
  config.head_dim = 16;
  config.max_position_embeddings = 128;
  config.validate();
  const auto ints = torch::TensorOptions().dtype(torch::kInt64);
  const int64_t seq = 48;
  // Row 0: one document; row 1: documents of 20 and 22 tokens, then 6 padding positions.
  const torch::Tensor positions = torch::cat(
      {torch::arange(seq, ints).unsqueeze(0),
       torch::cat({torch::arange(20, ints), torch::arange(22, ints), torch::zeros({6}, ints)})
           .unsqueeze(0)});
  const torch::Tensor segments = torch::cat(
      {torch::zeros({1, seq}, ints),
       torch::cat({torch::zeros({20}, ints), torch::ones({22}, ints), torch::full({6}, -1, ints)})
           .unsqueeze(0)});
  torch::manual_seed(5);
  const torch::Tensor tokens = torch::randint(config.vocab_size, {2, seq}, ints);
  const torch::Tensor weights = torch::randn({2, seq, config.vocab_size});
  struct Run {
    torch::Tensor teacher, student;
    std::vector<torch::Tensor> grads;
  };
  std::vector<Run> runs;
  for (const bool fused : {false, true}) {
    TorchLlamaOptions options = make_torch_llama_options("cuda", "auto", "auto");
    options.fused_attention = fused;
    const auto model = TorchLlama::random(config, 11, options);
    if (fused && !model->uses_fused_attention()) {
      GTEST_SKIP() << "libtorch < 2.0 has no scaled_dot_product_attention";
    }
    const torch::Device device = options.device;
    const TorchBatch batch{tokens.to(device), positions.to(device), segments.to(device)};
    const TorchForward teacher = model->teacher_forward(batch);
    const TorchForward student = model->student_forward(batch, teacher.swiftkv_input);
    (student.logits.to(torch::kFloat32) * weights.to(device)).sum().backward();
    Run run{teacher.logits, student.logits, {}};
    for (const torch::Tensor& p : model->trainable_parameters()) {
      ASSERT_TRUE(p.grad().defined());
      run.grads.push_back(p.grad().clone());
    }
    runs.push_back(std::move(run));
  }
  EXPECT_LT(relative_error(runs[1].teacher, runs[0].teacher), 2e-2);
  EXPECT_LT(relative_error(runs[1].student, runs[0].student), 2e-2);
  for (size_t i = 0; i < runs[0].grads.size(); ++i) {
    EXPECT_LT(relative_error(runs[1].grads[i], runs[0].grads[i]), 3e-2) << "parameter " << i;
  }
}

TEST(DistillBench, TinyRunOnCpuReportsSaneNumbers) {
  DistillBenchOptions options;
  options.model = "random:llama-100m";
  options.swiftkv_layers = 6;
  options.seq_len = 16;
  options.steps = 2;
  options.warmup = 1;
  options.device = "cpu";
  options.threads = 1;
  const DistillBenchResult r = run_distill_bench(options);
  EXPECT_EQ(r.num_layers, 12);
  EXPECT_EQ(r.num_kv_layers, 6);
  EXPECT_EQ(r.precision, "f32");
  EXPECT_FALSE(r.checkpointing);
  // norm_swiftkv + 6 x (q 768x768 + k, v 256x768).
  EXPECT_EQ(r.trainable_parameters, 768 + 6 * (768 * 768 + 2 * 256 * 768));
  ASSERT_EQ(r.step_seconds.size(), 2U);
  ASSERT_EQ(r.losses.size(), 3U);
  for (const double loss : r.losses) {
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_GT(loss, 0.0);  // l < L - 1: the initial student differs from the teacher
  }
  EXPECT_GT(r.median_tokens_per_second, 0.0);
  EXPECT_NEAR(r.median_tokens_per_second * r.median_step_seconds, 16.0, 1e-6);
  EXPECT_EQ(r.peak_allocated_bytes, -1);  // CPU: no caching allocator
  EXPECT_GT(r.peak_rss_bytes, 0);
  const auto json = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(json.at("tokens_per_step").get<int64_t>(), 16);
  EXPECT_NEAR(json.at("reference_tokens_per_second_per_gpu").get<double>(), 7870.37, 0.01);
  EXPECT_NE(r.summary().find("tokens/s"), std::string::npos);
}

TEST(DistillBench, RejectsCheckpointDirectoriesAndBadShapes) {
  DistillBenchOptions options;
  options.device = "cpu";
  options.model = "some/dir";
  EXPECT_THROW(run_distill_bench(options), Error);
  options.model = "random:no-such-shape";
  EXPECT_THROW(run_distill_bench(options), Error);
  options.model = "random:llama-100m";
  options.swiftkv_layers = 12;  // l = 0
  EXPECT_THROW(run_distill_bench(options), Error);
}

}  // namespace
}  // namespace swiftkv
