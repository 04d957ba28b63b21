// Gradients and loss of the distillation model on tiny random models (f64): the new parameters'
// gradients match central finite differences, frozen weights get none, checkpointing changes
// nothing, and with l = L - 1, G = 1 the initial student equals the teacher (loss exactly 0).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>

#include "model/convert.h"
#include "model/random_model.h"
#include "tiny_config.h"
#include "train/distill_loss.h"
#include "train/torch_llama.h"

namespace swiftkv {
namespace {

ModelConfig tiny_config() { return train_test::tiny_plain_config(); }

struct Fixture {
  ModelConfig config;
  ModelWeights base;
  std::unique_ptr<TorchLlama> model;
  TorchBatch batch;
  torch::Tensor loss_mask;
  torch::Tensor valid;
};

// A tiny model in f64; `perturb` moves the SwiftKV parameters away from their initialisation
// so the student differs from the teacher and gradients are not trivially zero.
Fixture make_fixture(int64_t l, int64_t g, bool perturb, bool checkpoint) {
  Fixture f;
  const ModelConfig plain = tiny_config();
  f.base = random_model_weights(plain, DType::kF32, /*seed=*/7);
  f.config = plain;
  f.config.architecture = Architecture::kLlamaSwiftKV;
  f.config.swiftkv = true;
  f.config.num_key_value_layers = l;
  f.config.key_value_group_size = g;
  f.config.validate();
  const NamedTensors init = init_swiftkv_tensors(f.config, f.base, DType::kF32);
  TorchLlamaOptions options;
  options.param_dtype = torch::kFloat64;
  options.frozen_dtype = torch::kFloat64;
  options.compute_dtype = torch::kFloat64;
  options.checkpoint_later_layers = checkpoint;
  f.model = std::make_unique<TorchLlama>(f.config, f.base, init, options);
  if (perturb) {
    torch::manual_seed(3);
    const torch::NoGradGuard no_grad;
    for (const torch::Tensor& p : f.model->trainable_parameters()) {
      p.add_(torch::randn_like(p) * 0.05 * (p.abs().mean().item<double>() + 0.1));
    }
  }
  // Two packed rows: row 0 holds two documents, row 1 one document and padding.
  const int64_t seq = 7;
  torch::manual_seed(11);
  f.batch.tokens = torch::randint(plain.vocab_size, {2, seq}, torch::kInt64);
  f.batch.positions =
      torch::tensor({0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4, 0, 0}, torch::kInt64).reshape({2, seq});
  f.batch.segments =
      torch::tensor({0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, -1, -1}, torch::kInt64).reshape({2, seq});
  f.loss_mask =
      torch::tensor({0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0}, torch::kInt64).reshape({2, seq});
  f.valid = f.batch.segments >= 0;
  return f;
}

torch::Tensor loss_of(const Fixture& f) {
  const TorchForward teacher = f.model->teacher_forward(f.batch);
  const TorchForward student = f.model->student_forward(f.batch, teacher.swiftkv_input);
  return distill_loss(student.logits, teacher.logits, student.last_layer_input,
                      teacher.last_layer_input, f.loss_mask, f.valid, DistillLossOptions{})
      .total;
}

void check_gradients(int64_t l, int64_t g, bool checkpoint) {
  Fixture f = make_fixture(l, g, /*perturb=*/true, checkpoint);
  const torch::Tensor loss = loss_of(f);
  ASSERT_GT(loss.item<double>(), 0.0);
  loss.backward();
  for (const torch::Tensor& p : f.model->frozen_parameters()) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
  // Central differences on a few entries of every trainable tensor, in f64. The random model's
  // weights are ~0.02, so gradients are small (1e-9 .. 1e-4) and the loss is a sum of O(1)
  // terms that cancel: its rounding error is ~1e-15, i.e. ~1e-15 / h = 1e-10 in the difference
  // quotient at h = 1e-5 (seen: 1e-10 .. 3e-10 at h = 1e-6). Truncation error is
  // h^2 |f'''| / 6 ~ 1e-10 / 0.02^2 ~ 3e-7 relative. Hence 1e-5 relative to the tensor's
  // largest gradient plus a 2e-10 absolute floor.
  const double h = 1e-5;
  std::mt19937 rng(5);
  for (const auto& [name, param] : f.model->trainable()) {
    ASSERT_TRUE(param.grad().defined()) << name;
    const torch::Tensor flat_grad = param.grad().reshape({-1});
    const torch::Tensor flat = param.detach().view({-1});
    const double max_grad = flat_grad.abs().max().item<double>();
    EXPECT_GT(max_grad, 0.0) << name;
    for (int trial = 0; trial < 6; ++trial) {
      const auto i = static_cast<int64_t>(rng() % static_cast<uint32_t>(flat.numel()));
      const double original = flat[i].item<double>();
      double plus = 0;
      double minus = 0;
      {
        const torch::NoGradGuard no_grad;
        flat[i].fill_(original + h);
        plus = loss_of(f).item<double>();
        flat[i].fill_(original - h);
        minus = loss_of(f).item<double>();
        flat[i].fill_(original);
      }
      const double numeric = (plus - minus) / (2 * h);
      const double analytic = flat_grad[i].item<double>();
      EXPECT_NEAR(analytic, numeric, 1e-5 * std::max(std::abs(numeric), max_grad) + 2e-10)
          << name << "[" << i << "]";
    }
  }
}

TEST(DistillGradientTest, MatchesFiniteDifferences) { check_gradients(2, 1, false); }
TEST(DistillGradientTest, MatchesFiniteDifferencesAcrossKV) { check_gradients(1, 3, false); }
TEST(DistillGradientTest, MatchesFiniteDifferencesWithCheckpointing) {
  check_gradients(1, 1, true);
}

TEST(DistillGradientTest, CheckpointingGivesTheSameGradients) {
  Fixture plain = make_fixture(1, 3, true, false);
  Fixture ckpt = make_fixture(1, 3, true, true);
  loss_of(plain).backward();
  loss_of(ckpt).backward();
  for (size_t i = 0; i < plain.model->trainable().size(); ++i) {
    const auto& [name, p] = plain.model->trainable()[i];
    const auto& q = ckpt.model->trainable()[i].second;
    EXPECT_TRUE(torch::allclose(p.grad(), q.grad(), 1e-12, 1e-14)) << name;
  }
}

TEST(DistillGradientTest, LastLayerStudentEqualsTeacherAndLossIsZero) {
  const int64_t num_layers = tiny_config().num_hidden_layers;
  for (bool checkpoint : {false, true}) {
    Fixture f = make_fixture(num_layers - 1, 1, /*perturb=*/false, checkpoint);
    const TorchForward teacher = f.model->teacher_forward(f.batch);
    const TorchForward student = f.model->student_forward(f.batch, {});
    EXPECT_TRUE(torch::equal(teacher.logits, student.logits));
    EXPECT_EQ(loss_of(f).item<double>(), 0.0);
  }
}

TEST(DistillGradientTest, StudentSkippingEarlyLayersMatchesFullStudent) {
  Fixture f = make_fixture(2, 2, true, false);
  const TorchForward teacher = f.model->teacher_forward(f.batch);
  const torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(f.model->student_forward(f.batch, teacher.swiftkv_input).logits,
                           f.model->student_forward(f.batch, {}).logits));
}

TEST(DistillLossTest, KlIsTemperatureScaledAndMasked) {
  const torch::Tensor teacher =
      torch::tensor({1.0, 2.0, 0.5, 0.0, 0.0, 0.0}, torch::kFloat64).reshape({1, 2, 3});
  const torch::Tensor student = torch::zeros({1, 2, 3}, torch::kFloat64);
  const torch::Tensor hidden = torch::zeros({1, 2, 4}, torch::kFloat64);
  const torch::Tensor mask = torch::tensor({1, 0}).reshape({1, 2});
  const DistillLoss loss =
      distill_loss(student, teacher, hidden, hidden, mask, mask, DistillLossOptions{});
  // p = softmax([0.5, 1, 0.25]), q uniform: KL = sum p log p + log 3, times T^2 = 4.
  const torch::Tensor p = torch::softmax(torch::tensor({0.5, 1.0, 0.25}, torch::kFloat64), 0);
  const double expected = 4.0 * ((p * p.log()).sum().item<double>() + std::log(3.0));
  EXPECT_NEAR(loss.kl.item<double>(), expected, 1e-12);
  EXPECT_EQ(loss.hidden.item<double>(), 0.0);
}

}  // namespace
}  // namespace swiftkv
