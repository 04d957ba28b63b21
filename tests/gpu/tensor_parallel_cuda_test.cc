// Tensor parallelism (model/tensor_parallel.h, engine/tensor_parallel_step_model.h) on a machine
// with one GPU: the ranks share the device through device-local communicators (NCCL refuses two
// ranks on one GPU), which run the same sharded forward with the same collectives, only
// host-synchronous. NCCL itself is checked with a one-rank group. What N ranks must give:
//   - f32: the logits of the one-GPU model to kF32Tolerance (model_test_util.h; the all-reduce
//     adds the ranks' partial sums in another order than one GEMM, a reordering of the same
//     f32 sums), and stories260K's golden greedy output token for token;
//   - bf16: the one-GPU logits to kBf16Tolerance (each all-reduce rounds the partial sums to
//     bf16 once more, one more rounding per row-parallel GEMM).
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "engine/capacity.h"
#include "engine/offline_engine.h"
#include "engine/tensor_parallel_step_model.h"
#include "model/llama_model_cuda.h"
#include "model/loader.h"
#include "model/random_model.h"
#include "model/tensor_parallel.h"
#include "model_test_util.h"
#include "ops/collectives.h"
#include "ops/device.h"

namespace swiftkv {
namespace {

using gpu_test::argmax_row;
using gpu_test::Batcher;
using gpu_test::max_relative_error;
using gpu_test::random_tokens;

CudaModelOptions small_options(DType dtype) {
  CudaModelOptions o;
  o.dtype = dtype;
  o.max_num_batched_tokens = 512;
  o.max_num_seqs = 8;
  o.max_num_logits = 512;
  o.max_model_len = 512;
  return o;
}

std::unique_ptr<TensorParallelStepModel> on_one_gpu(const CudaModelSource& source, int ranks,
                                                    DType dtype) {
  return std::make_unique<TensorParallelStepModel>(
      source, ops::Communicator::device_local_group(ranks), std::vector<int>(ranks, 0),
      small_options(dtype));
}

// A SwiftKV model whose 2 KV heads are replicated over 4 ranks, with a vocabulary 4 does not
// divide (the last vocabulary shard is padded).
ModelConfig replicated_kv_config() {
  ModelConfig c = random_model_config({.shape = "llama-100m", .num_swiftkv_layers = 2});
  c.vocab_size = 1001;
  c.hidden_size = 256;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 2;
  c.head_dim = 32;
  c.intermediate_size = 512;
  c.num_hidden_layers = 4;
  c.num_key_value_layers = 2;
  c.validate();
  return c;
}

class TensorParallel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ops::cuda_available()) {
      GTEST_SKIP() << "no CUDA device";
    }
  }

  // Logits of a two-sequence prompt step (every row) and one decode step, from `model`.
  static std::vector<Tensor> run_steps(StepModel& model, int32_t vocab) {
    const Batcher batcher{.blocks_per_seq = 8};
    const KvCache cache = model.allocate_cache(16, 16);
    const std::vector<int32_t> a = random_tokens(37, 1, vocab);
    const std::vector<int32_t> b = random_tokens(20, 2, vocab);
    std::vector<Tensor> out;
    out.push_back(ops::to_host(model.context(),
                               model.forward(batcher.make({{0, a, 0, 37}, {1, b, 0, 20}}), cache)));
    out.push_back(ops::to_host(
        model.context(), model.forward(batcher.make({{0, {5}, 37, 1}, {1, {7}, 20, 1}}), cache)));
    return out;
  }

  void expect_ranks_match_one_gpu(const CudaModelSource& source, DType dtype, double tolerance,
                                  const std::vector<int>& rank_counts) {
    ops::CudaDevice device;
    const auto one = source.build(device.context(), small_options(dtype));
    CudaStepModel one_step(*one, device.context());
    const std::vector<Tensor> expected =
        run_steps(one_step, static_cast<int32_t>(source.config().vocab_size));
    for (const int n : rank_counts) {
      const auto tp = on_one_gpu(source, n, dtype);
      const std::vector<Tensor> got =
          run_steps(*tp, static_cast<int32_t>(source.config().vocab_size));
      for (size_t step = 0; step < got.size(); ++step) {
        const double error = max_relative_error(got[step], expected[step]);
        EXPECT_LE(error, tolerance) << n << " ranks, step " << step;
        std::printf("%d ranks (%s), step %zu: max relative error %.3g vs one GPU\n", n,
                    std::string(dtype_name(dtype)).c_str(), step, error);
      }
    }
  }
};

TEST_F(TensorParallel, Stories260KF32GreedyEqualsGoldenOn2And4Ranks) {
  const std::vector<int32_t> golden = gpu_test::expected_greedy();
  ASSERT_EQ(golden.size(), 256U);
  const CudaModelSource source(gpu_test::stories_dir(), LoadOptions{});
  const Batcher batcher{.blocks_per_seq = 32};
  for (const int n : {2, 4}) {
    const auto model = on_one_gpu(source, n, DType::kF32);
    EXPECT_EQ(model->rank_model(n - 1).shard().num_kv_heads, 4 / n);
    const KvCache cache = model->allocate_cache(32, 16);
    std::vector<int32_t> got;
    int32_t token = 1;
    for (int pos = 0; pos < 256; ++pos) {
      const Tensor logits =
          ops::to_host(model->context(), model->forward(batcher.one({token}, pos, 1), cache));
      token = argmax_row(logits, 0);
      got.push_back(token);
    }
    EXPECT_EQ(got, golden) << n << " ranks";
  }
}

TEST_F(TensorParallel, SwiftKVStories260KMatchesOneGpu) {
  const std::string dir = [] {
    const std::string out = (std::filesystem::temp_directory_path() /
                             ("swiftkv-tp-test-" + std::to_string(::getpid()) + "-l2"))
                                .string();
    convert_to_swiftkv(gpu_test::stories_dir(), out, 2, 1, std::nullopt, true);
    return out;
  }();
  const CudaModelSource source(dir, LoadOptions{});
  expect_ranks_match_one_gpu(source, DType::kF32, gpu_test::kF32Tolerance, {2, 4});
  expect_ranks_match_one_gpu(source, DType::kBF16, gpu_test::kBf16Tolerance, {2, 4});
}

TEST_F(TensorParallel, ReplicatedKvHeadsAndPaddedVocabularyMatchOneGpu) {
  const CudaModelSource source =
      CudaModelSource::random(replicated_kv_config(), 7, SwiftKVMode::kOn);
  const auto shard = TensorParallelShard::of(source.config(), 3, 4);
  EXPECT_EQ(shard.num_kv_heads, 1);
  EXPECT_EQ(shard.first_kv_head, 1);
  EXPECT_EQ(shard.vocab_end - shard.vocab_begin, 1001 - 3 * 251);
  expect_ranks_match_one_gpu(source, DType::kF32, gpu_test::kF32Tolerance, {2, 4});
  expect_ranks_match_one_gpu(source, DType::kBF16, gpu_test::kBf16Tolerance, {4});
}

// The engine over 2 ranks (f32 stories260K): the KV cache planned from free memory holds every
// rank's shard, sampling reads rank 0's full-vocabulary logits, and 8 concurrent greedy requests
// (chunked prefill, decode graphs off, preemption-free) give the one-GPU engine's outputs.
TEST_F(TensorParallel, EngineGreedyOutputsEqualOneGpu) {
  const CudaModelSource source(gpu_test::stories_dir(), LoadOptions{});
  const auto run = [](StepModel& model) {
    const GpuCachePlan plan = plan_gpu_num_blocks(model, 0.5, 16, 512, 512, 8);
    EXPECT_GT(plan.num_blocks, 32);
    const EngineConfig config{.block_size = 16,
                              .num_blocks = std::min<int64_t>(plan.num_blocks, 512),
                              .max_model_len = 512,
                              .max_num_batched_tokens = 128,
                              .max_num_seqs = 8};
    OfflineEngine engine(model, nullptr, config);
    std::vector<Request> requests;
    for (int i = 0; i < 8; ++i) {
      Request r;
      r.prompt_ids = random_tokens(20 + 37 * i, static_cast<uint32_t>(10 + i), 512);
      r.sampling.temperature = 0.0F;
      r.sampling.max_tokens = 48;
      r.sampling.ignore_eos = true;
      requests.push_back(std::move(r));
    }
    std::vector<std::vector<int32_t>> outputs;
    for (const CompletionResult& r : engine.generate(requests)) {
      EXPECT_EQ(r.status, FinishStatus::kLength) << r.error;
      outputs.push_back(r.output_ids);
    }
    return outputs;
  };
  ops::CudaDevice device;
  const auto one = source.build(device.context(), small_options(DType::kF32));
  CudaStepModel one_step(*one, device.context());
  const auto expected = run(one_step);
  const auto tp = on_one_gpu(source, 2, DType::kF32);
  EXPECT_EQ(run(*tp), expected);
}

// The NCCL path with the one rank this machine has: collectives are identities, and a one-rank
// NCCL step model (graphs on) gives the one-GPU logits exactly.
TEST_F(TensorParallel, NcclOneRank) {
  std::vector<ops::Communicator> group = ops::Communicator::nccl_group({0});
  ASSERT_EQ(group.size(), 1U);
  EXPECT_TRUE(group[0].supports_graphs());
  ops::CudaDevice device(0);
  const ops::Context ctx = device.context();
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0F, 1.0F);
  std::vector<float> values(1000);
  for (float& v : values) {
    v = u(rng);
  }
  const Tensor host = Tensor::from_f32({1000}, values);
  const Tensor t = ops::to_device(ctx, host);
  ops::all_reduce_sum(ctx, group[0], t);
  const Tensor gathered = ops::device_empty(ctx, {1000}, DType::kF32);
  ops::all_gather(ctx, group[0], gathered, t);
  EXPECT_EQ(max_relative_error(ops::to_host(ctx, gathered), host), 0.0);

  const CudaModelSource source(gpu_test::stories_dir(), LoadOptions{});
  const auto one = source.build(ctx, small_options(DType::kF32));
  CudaStepModel one_step(*one, ctx);
  const auto nccl = std::make_unique<TensorParallelStepModel>(
      source, std::move(group), std::vector<int>{0}, small_options(DType::kF32));
  const std::vector<Tensor> expected = run_steps(one_step, 512);
  const std::vector<Tensor> got = run_steps(*nccl, 512);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(max_relative_error(got[i], expected[i]), 0.0) << i;
  }
}

// NCCL over 2 and 4 GPUs where the machine has them (skipped on one GPU): the same checks as the
// device-local ranks above, with CUDA graphs on (NCCL collectives are captured).
TEST_F(TensorParallel, NcclRanksMatchOneGpu) {
  const int gpus = ops::cuda_device_count();
  if (gpus < 2) {
    GTEST_SKIP() << "needs 2 GPUs, this machine has " << gpus;
  }
  const CudaModelSource source(gpu_test::stories_dir(), LoadOptions{});
  ops::CudaDevice device(0);
  const auto one = source.build(device.context(), small_options(DType::kF32));
  CudaStepModel one_step(*one, device.context());
  const std::vector<Tensor> expected = run_steps(one_step, 512);
  for (const int n : {2, 4}) {
    if (n > gpus) {
      continue;
    }
    const auto tp = TensorParallelStepModel::on_gpus(source, n, small_options(DType::kF32));
    const std::vector<Tensor> got = run_steps(*tp, 512);
    for (size_t step = 0; step < got.size(); ++step) {
      EXPECT_LE(max_relative_error(got[step], expected[step]), gpu_test::kF32Tolerance)
          << n << " GPUs, step " << step;
    }
    const Batcher batcher{.blocks_per_seq = 32};
    const KvCache cache = tp->allocate_cache(32, 16);
    std::vector<int32_t> greedy;
    int32_t token = 1;
    for (int pos = 0; pos < 256; ++pos) {
      token = argmax_row(
          ops::to_host(tp->context(), tp->forward(batcher.one({token}, pos, 1), cache)), 0);
      greedy.push_back(token);
    }
    EXPECT_EQ(greedy, gpu_test::expected_greedy()) << n << " GPUs";
  }
}

// The device-local collectives themselves: 3 ranks on 3 threads, random bf16 and f32 data.
TEST_F(TensorParallel, DeviceLocalCollectivesSumAndGather) {
  constexpr int kRanks = 3;
  constexpr int64_t kN = 4099;
  std::vector<ops::Communicator> group = ops::Communicator::device_local_group(kRanks);
  std::vector<std::vector<float>> inputs(kRanks, std::vector<float>(kN));
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-2.0F, 2.0F);
  for (auto& in : inputs) {
    for (float& v : in) {
      v = u(rng);
    }
  }
  std::vector<Tensor> sums(kRanks);
  std::vector<Tensor> gathers(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] {
      ops::CudaDevice device(0);
      const ops::Context ctx = device.context();
      const Tensor t = ops::to_device(ctx, Tensor::from_f32({kN}, inputs[static_cast<size_t>(r)]));
      const Tensor all = ops::device_empty(ctx, {kRanks * kN}, DType::kF32);
      ops::all_gather(ctx, group[static_cast<size_t>(r)], all, t);
      ops::all_reduce_sum(ctx, group[static_cast<size_t>(r)], t);
      sums[static_cast<size_t>(r)] = ops::to_host(ctx, t);
      gathers[static_cast<size_t>(r)] = ops::to_host(ctx, all);
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (int r = 0; r < kRanks; ++r) {
    for (int64_t i = 0; i < kN; ++i) {
      const float expected =
          (inputs[0][static_cast<size_t>(i)] + inputs[1][static_cast<size_t>(i)]) +
          inputs[2][static_cast<size_t>(i)];
      ASSERT_EQ(sums[static_cast<size_t>(r)].data<float>()[i], expected) << r << " " << i;
      for (int k = 0; k < kRanks; ++k) {
        ASSERT_EQ(gathers[static_cast<size_t>(r)].data<float>()[k * kN + i],
                  inputs[static_cast<size_t>(k)][static_cast<size_t>(i)]);
      }
    }
  }
}

}  // namespace
}  // namespace swiftkv
