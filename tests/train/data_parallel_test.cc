// Data-parallel distillation on CPU ranks (threads, gloo): the collectives, option checks and
// failure handling of data_parallel.h, and distill_step with N ranks against 1 rank on tiny
// random models — the same gradient (f64) and the same training run (f32, AdamW) for the same
// global batch, also when a rank gets no rows.
#include "train/data_parallel.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "model/convert.h"
#include "model/random_model.h"
#include "tiny_config.h"
#include "train/distill.h"
#include "train/distill_bench.h"
#include "train/distill_step.h"
#include "train/torch_llama.h"

namespace swiftkv {
namespace {

DataParallelOptions cpu_ranks(int n) { return DataParallelOptions{n, "cpu", /*threads=*/1}; }

TEST(DataParallel, AllReduceBroadcastAndBarrierAcrossThreads) {
  ASSERT_TRUE(have_gloo()) << "configure with libgloo-dev installed (scripts/setup.sh)";
  const int n = 3;
  std::vector<std::vector<float>> sums(n), broadcasts(n);
  run_data_parallel(cpu_ranks(n), [&](DataParallelRank& rank) {
    EXPECT_EQ(rank.num_ranks(), n);
    EXPECT_EQ(rank.backend(), "gloo");
    EXPECT_TRUE(rank.device().is_cpu());
    const auto r = static_cast<float>(rank.rank());
    torch::Tensor sum = torch::tensor({r + 1.0F, 10.0F * r});
    rank.all_reduce_sum(sum);
    torch::Tensor from_main = torch::full({2}, r + 5.0F);
    rank.broadcast_from_main(from_main);
    rank.barrier();
    sums[rank.rank()] = {sum[0].item<float>(), sum[1].item<float>()};
    broadcasts[rank.rank()] = {from_main[0].item<float>(), from_main[1].item<float>()};
  });
  for (int r = 0; r < n; ++r) {
    EXPECT_EQ(sums[r], (std::vector<float>{6.0F, 30.0F})) << r;
    EXPECT_EQ(broadcasts[r], (std::vector<float>{5.0F, 5.0F})) << r;
  }
}

TEST(DataParallel, OneRankRunsOnTheCallersThread) {
  const std::thread::id caller = std::this_thread::get_id();
  run_data_parallel(cpu_ranks(1), [&](DataParallelRank& rank) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_TRUE(rank.is_main());
    torch::Tensor t = torch::ones({2});
    rank.all_reduce_sum(t);  // one rank: unchanged
    EXPECT_TRUE(torch::equal(t, torch::ones({2})));
  });
}

TEST(DataParallel, RejectsBadOptions) {
  EXPECT_THROW(check_data_parallel({0, "cpu", 1}), Error);
  EXPECT_THROW(check_data_parallel({-2, "cpu", 1}), Error);
  EXPECT_THROW(check_data_parallel({1, "tpu", 1}), Error);
  EXPECT_THROW(check_data_parallel({2, "cuda:0", 1}), Error);  // one device, two ranks
  if (!torch::cuda::is_available()) {
    EXPECT_THROW(check_data_parallel({1, "cuda", 1}), Error);
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// `swiftkv distill` checks --nproc and the global batch before touching model or data.
TEST(DataParallel, DistillRejectsBadNprocAndIndivisibleBatch) {
  DistillOptions options;
  options.model = "/nonexistent-model";
  options.output = "/nonexistent-output";
  options.data = {"/nonexistent.txt"};
  options.nproc = 0;
  EXPECT_NE(error_of([&] { run_distill(options); }).find("--nproc must be >= 1"),
            std::string::npos);
  options.nproc = 2;
  options.batch_size = 3;
  EXPECT_EQ(error_of([&] { run_distill(options); }),
            "--batch-size 3 is the global batch: it must be a multiple of --nproc 2 (each rank "
            "takes an equal share)");
}

// A rank that throws must not leave the others blocked: at the host barrier they are woken,
// and in a gloo all-reduce its destroyed process group fails them. The first error is rethrown.
TEST(DataParallel, AFailingRankStopsTheOthers) {
  for (const bool in_all_reduce : {false, true}) {
    std::atomic<int> finished{0};
    try {
      run_data_parallel(cpu_ranks(2), [&](DataParallelRank& rank) {
        if (rank.rank() == 1) {
          throw Error("rank 1 failed on purpose");
        }
        if (in_all_reduce) {
          torch::Tensor t = torch::ones({4});
          rank.all_reduce_sum(t);
        } else {
          rank.barrier();
        }
        ++finished;
      });
      ADD_FAILURE() << "no exception";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), "rank 1 failed on purpose");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected error type: " << e.what();
    }
    EXPECT_EQ(finished.load(), 0) << "in_all_reduce " << in_all_reduce;
  }
}

// --- distill_step with N ranks ------------------------------------------------------------------

using train_test::tiny_plain_config;

ModelConfig tiny_config() {  // l = 1, G = 3
  ModelConfig c = tiny_plain_config();
  c.architecture = Architecture::kLlamaSwiftKV;
  c.swiftkv = true;
  c.num_key_value_layers = 1;
  c.key_value_group_size = 3;
  c.validate();
  return c;
}

// A global batch of packed rows that differ in padding, documents and response positions, so
// the ranks' token counts differ and only global normalisation makes the sums agree.
struct GlobalBatch {
  torch::Tensor tokens, positions, segments, loss_mask;  // [rows, seq] int64
};

GlobalBatch global_batch(int64_t rows, int64_t seq, uint64_t seed) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  GlobalBatch b;
  b.tokens = torch::randint(tiny_config().vocab_size, {rows, seq}, generator, torch::kInt64);
  b.positions = torch::zeros({rows, seq}, torch::kInt64);
  b.segments = torch::full({rows, seq}, -1, torch::kInt64);
  b.loss_mask = torch::zeros({rows, seq}, torch::kInt64);
  const torch::Tensor coin = torch::rand({rows, seq}, generator);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t length = seq - (r * 3 + static_cast<int64_t>(seed)) % (seq / 2);
    const int64_t split = r % 2 == 0 ? length / 2 : length;  // even rows hold two documents
    for (int64_t i = 0; i < length; ++i) {
      const bool second = i >= split;
      b.segments[r][i] = second ? 1 : 0;
      b.positions[r][i] = second ? i - split : i;
      const bool next_in_doc = i + 1 < length && (i + 1 < split) == (i < split);
      b.loss_mask[r][i] = next_in_doc && coin[r][i].item<float>() < 0.7F ? 1 : 0;
    }
  }
  return b;
}

struct RankModel {
  std::unique_ptr<TorchLlama> model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
};

Tensor scaled(const Tensor& tensor, float factor) {
  return from_torch(to_torch(tensor) * factor, DType::kF32);
}

// random_model_weights draws matrices from N(0, 0.02): with hidden size 16 the logits would be
// ~1e-2 and teacher and student nearly equal, a KL of ~1e-4 that f32 computes as a difference of
// O(1) terms. Matrices of N(0, 0.2) give O(1) logits and a well-conditioned loss.
ModelWeights tiny_base() {
  ModelWeights w = random_model_weights(tiny_plain_config(), DType::kF32, /*seed=*/7);
  const float factor = 10.0F;
  w.embed_tokens = scaled(w.embed_tokens, factor);
  w.lm_head = scaled(w.lm_head, factor);
  for (LayerWeights& layer : w.layers) {
    for (Tensor* t : {&layer.q_proj, &layer.k_proj, &layer.v_proj, &layer.o_proj, &layer.gate_proj,
                      &layer.up_proj, &layer.down_proj}) {
      *t = scaled(*t, factor);
    }
  }
  return w;
}

RankModel make_rank_model(torch::Dtype dtype, double lr) {
  const ModelWeights base = tiny_base();
  const NamedTensors init = init_swiftkv_tensors(tiny_config(), base, DType::kF32);
  TorchLlamaOptions options;
  options.param_dtype = dtype;
  options.frozen_dtype = dtype;
  options.compute_dtype = dtype;
  RankModel m;
  m.model = std::make_unique<TorchLlama>(tiny_config(), base, init, options);
  {
    // Move away from the initialisation so the student differs clearly from the teacher.
    const torch::NoGradGuard no_grad;
    at::Generator generator = at::detail::createCPUGenerator(3);
    for (const torch::Tensor& p : m.model->trainable_parameters()) {
      p.add_(torch::randn(p.sizes(), generator, torch::kFloat32).to(dtype) * 0.3 *
             (p.abs().mean().item<double>() + 0.1));
    }
  }
  m.optimizer = make_adamw(*m.model, lr, /*weight_decay=*/0.0);
  return m;
}

struct Trace {
  std::vector<double> losses;
  std::vector<double> grad_norms;
  std::vector<torch::Tensor> first_grads;  // after the first step's all-reduce
  std::vector<torch::Tensor> initial_params;
  std::vector<torch::Tensor> params;  // at the end
};

// `steps` optimizer steps on global batches of `rows` rows split over `num_ranks` ranks in
// contiguous slices of rows / num_ranks (as `swiftkv distill` does); rank 0's trace, and every
// rank's final parameters must equal rank 0's bit for bit.
Trace train(int num_ranks, int64_t rows, int64_t steps, torch::Dtype dtype, double lr,
            double max_grad_norm) {
  std::vector<Trace> traces(static_cast<size_t>(num_ranks));
  run_data_parallel(cpu_ranks(num_ranks), [&](DataParallelRank& rank) {
    RankModel m = make_rank_model(dtype, lr);
    broadcast_trainable_parameters(*m.model, rank);
    Trace& trace = traces[rank.rank()];
    for (const torch::Tensor& p : m.model->trainable_parameters()) {
      trace.initial_params.push_back(p.detach().clone());
    }
    const int64_t per_rank = (rows + num_ranks - 1) / num_ranks;
    for (int64_t step = 0; step < steps; ++step) {
      const GlobalBatch global = global_batch(rows, 12, static_cast<uint64_t>(step + 1));
      const int64_t first = std::min(rows, rank.rank() * per_rank);
      const int64_t count = std::min(rows, first + per_rank) - first;
      TorchBatch batch;
      torch::Tensor mask, valid;
      if (count > 0) {
        batch = TorchBatch{global.tokens.narrow(0, first, count),
                           global.positions.narrow(0, first, count),
                           global.segments.narrow(0, first, count)};
        mask = global.loss_mask.narrow(0, first, count);
        valid = batch.segments >= 0;
      }
      const DistillStepResult r = distill_step(*m.model, batch, mask, valid, DistillLossOptions{},
                                               max_grad_norm, *m.optimizer, &rank);
      trace.losses.push_back(r.loss);
      trace.grad_norms.push_back(r.grad_norm);
      if (step == 0) {
        for (const torch::Tensor& p : m.model->trainable_parameters()) {
          trace.first_grads.push_back(p.grad().clone());
        }
      }
    }
    for (const torch::Tensor& p : m.model->trainable_parameters()) {
      trace.params.push_back(p.detach().clone());
    }
  });
  for (int r = 1; r < num_ranks; ++r) {
    EXPECT_EQ(traces[r].losses, traces[0].losses) << "rank " << r;
    for (size_t i = 0; i < traces[0].params.size(); ++i) {
      EXPECT_TRUE(torch::equal(traces[r].params[i], traces[0].params[i])) << "rank " << r;
    }
  }
  return traces[0];
}

double max_abs(const std::vector<torch::Tensor>& tensors) {
  double m = 0.0;
  for (const torch::Tensor& t : tensors) {
    m = std::max(m, t.abs().max().item<double>());
  }
  return m;
}

double max_abs_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, (a[i] - b[i]).abs().max().item<double>());
  }
  return m;
}

// In f64 the N-rank gradient is the 1-rank gradient of the global batch up to the order of the
// sums: rounding ~1e-16 relative per operation over O(100) accumulated terms, so 1e-12 of the
// largest gradient is a wide bound that a wrong normalisation (off by the ranks' count ratio,
// here >= 10%) cannot meet.
TEST(DataParallelStep, RanksSumToTheOneRankGradient) {
  for (const auto& [num_ranks, rows] : {std::pair{2, 4L}, std::pair{3, 6L}, std::pair{2, 1L}}) {
    // (2, 1): rank 1 has no rows and contributes zeros.
    const Trace one = train(1, rows, 1, torch::kFloat64, 1e-3, /*max_grad_norm=*/0.0);
    const Trace many = train(num_ranks, rows, 1, torch::kFloat64, 1e-3, 0.0);
    const double scale = max_abs(one.first_grads);
    ASSERT_GT(scale, 0.0);
    EXPECT_LT(max_abs_diff(many.first_grads, one.first_grads), 1e-12 * scale)
        << num_ranks << " ranks, " << rows << " rows";
    EXPECT_NEAR(many.losses[0], one.losses[0], 1e-12 * std::abs(one.losses[0]));
  }
}

// f32, AdamW (lr 1e-3), clipping at 1, 8 steps on 4-row batches: 2 ranks follow 1 rank. The two
// runs differ only in f32 rounding: the order of the gradient's sums over rows and tokens, the
// loss summed from two shares, BLAS blocking for 2-row vs 4-row matmuls. The tolerance is that
// rounding's own size in this very run: the same 1-rank run in f64 gives the exact trajectory,
// and E = |1 rank f32 - f64| is what f32 arithmetic alone moves the losses and parameters by.
// Two f32 roundings of the same computation differ by about E (at most ~2E); 4E leaves room and
// is still far below what a wrong normalisation or a missing all-reduce does (the gradient off
// by 10-50%, i.e. losses off by ~1e-3 after one step, while E ~ 1e-7). Measured here (two
// OpenBLAS kernel sets): losses 1.2e-7..2.4e-7 vs E 2.0e-7..2.6e-7 (scale 1.2), parameters
// 3e-8 vs E 2.4e-7 (scale 1.5). A floor of 16 f32 ulps of the scale (2e-6 relative) guards
// against an E that is small by chance and is still 100x below a wrong gradient's effect.
TEST(DataParallelStep, TwoRanksTrainLikeOneRankInF32) {
  const int64_t steps = 8;
  const double lr = 1e-3;
  const Trace one = train(1, 4, steps, torch::kFloat32, lr, /*max_grad_norm=*/1.0);
  const Trace two = train(2, 4, steps, torch::kFloat32, lr, 1.0);
  const Trace exact = train(1, 4, steps, torch::kFloat64, lr, 1.0);
  const double ulp = std::ldexp(1.0, -23);
  double loss_error = 0.0;  // E for the losses
  double loss_scale = 0.0;
  for (int64_t s = 0; s < steps; ++s) {
    loss_error = std::max(loss_error, std::abs(one.losses[s] - exact.losses[s]));
    loss_scale = std::max(loss_scale, std::abs(exact.losses[s]));
  }
  const double loss_tolerance = 4 * std::max(loss_error, 4 * ulp * loss_scale);
  double loss_diff = 0.0;
  for (int64_t s = 0; s < steps; ++s) {
    EXPECT_NEAR(two.losses[s], one.losses[s], loss_tolerance)
        << "step " << s << ", E " << loss_error;
    loss_diff = std::max(loss_diff, std::abs(two.losses[s] - one.losses[s]));
  }
  std::vector<torch::Tensor> exact_f32;
  for (const torch::Tensor& p : exact.params) {
    exact_f32.push_back(p.to(torch::kFloat32));
  }
  const double scale = max_abs(exact.params);
  const double param_error = max_abs_diff(one.params, exact_f32);
  const double diff = max_abs_diff(two.params, one.params);
  EXPECT_LT(diff, 4 * std::max(param_error, 4 * ulp * scale))
      << "max |2 ranks - 1 rank| " << diff << ", E " << param_error << ", scale " << scale;
  std::printf(
      "2 ranks vs 1 rank (f32): losses max |diff| %.3g (E %.3g, scale %.3g), parameters "
      "max |diff| %.3g (E %.3g, scale %.3g)\n",
      loss_diff, loss_error, loss_scale, diff, param_error, scale);
  // Training moved the parameters by far more than the tolerance.
  EXPECT_GT(max_abs_diff(one.params, one.initial_params),
            100 * 4 * std::max(param_error, 4 * ulp * scale));
}

TEST(DistillBench, TwoCpuRanksReportTotalAndPerRankThroughput) {
  DistillBenchOptions options;
  options.model = "random:llama-100m";
  options.swiftkv_layers = 6;
  options.seq_len = 8;
  options.batch_size = 2;
  options.nproc = 2;
  options.steps = 1;
  options.warmup = 0;
  options.device = "cpu";
  options.threads = 1;
  const DistillBenchResult r = run_distill_bench(options);
  EXPECT_EQ(r.backend, "gloo");
  ASSERT_EQ(r.ranks.size(), 2U);
  for (const DistillBenchRank& rank : r.ranks) {
    EXPECT_EQ(rank.device, "cpu");
    EXPECT_GT(rank.tokens_per_second, 0.0);
  }
  ASSERT_EQ(r.losses.size(), 1U);
  EXPECT_TRUE(std::isfinite(r.losses[0]));
  EXPECT_NEAR(r.median_tokens_per_second * r.median_step_seconds, 16.0, 1e-6);
  options.batch_size = 3;  // not a multiple of --nproc 2
  EXPECT_THROW(run_distill_bench(options), Error);
}

}  // namespace
}  // namespace swiftkv
