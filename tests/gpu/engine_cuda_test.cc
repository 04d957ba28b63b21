// The serving engine on the GPU (engine/step_model.h CudaStepModel, engine/device_sampler.h):
// stories260K through the OfflineEngine with GPU sampling and its host fallback, the
// --gpu-memory-utilization planner (engine/capacity.h), preemption on a small device cache, and
// serving with an fp8 (e4m3) KV cache.
//
// Batch independence: on CUDA a row's logits depend on the batch only through rounding (GEMM
// kernels are chosen per row count). In bf16 that flips near-ties: stories260K's teacher-forced
// bf16 argmax is undecidable already at position 20 (model_cuda_test), so the bf16 run only
// reports how long the mixed-batch output follows the output alone. In f32 the rounding
// differences (~1e-7 relative) are far below stories260K's argmax margins along the golden path
// (the f32 GPU forward reproduces all 256 golden tokens), so there the greedy output inside a
// mixed batch must equal the output alone and the golden, token for token.
//
// Data: stories260K from $SWIFTKV_GPU_DATA as in model_cuda_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "engine/capacity.h"
#include "engine/engine_core.h"
#include "engine/offline_engine.h"
#include "engine/step_model.h"
#include "model/loader.h"
#include "model_test_util.h"
#include "ops/device.h"
#include "tokenizer/llama2c_converter.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv {
namespace {

constexpr int64_t kBlockSize = 16;
constexpr int64_t kMaxModelLen = 512;  // stories260K's context
constexpr int64_t kMaxBatchedTokens = 256;
constexpr int64_t kMaxSeqs = 16;

using gpu_test::expected_greedy;
using gpu_test::stories_dir;

Request make_request(std::vector<int32_t> prompt, int32_t max_tokens) {
  Request r;
  r.prompt_ids = std::move(prompt);
  r.sampling.temperature = 0.0F;
  r.sampling.max_tokens = max_tokens;
  r.sampling.ignore_eos = true;
  return r;
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

class CudaEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ops::cuda_available()) {
      GTEST_SKIP() << "no CUDA device";
    }
    device_ = std::make_unique<ops::CudaDevice>();
    load(DType::kBF16);
  }

  // (Re)loads stories260K with weights and activations in `dtype`, the KV cache in
  // `kv_cache_dtype` (nullopt: `dtype`).
  void load(DType dtype, std::optional<DType> kv_cache_dtype = std::nullopt) {
    step_.reset();
    CudaModelOptions options;
    options.max_num_batched_tokens = kMaxBatchedTokens;
    options.max_num_seqs = kMaxSeqs;
    options.max_num_logits = kMaxSeqs;
    options.max_model_len = kMaxModelLen;
    options.dtype = dtype;
    options.kv_cache_dtype = kv_cache_dtype;
    model_ = load_cuda_model(stories_dir(), LoadOptions{}, device_->context(), options);
    step_ = std::make_unique<CudaStepModel>(*model_, device_->context());
  }

  // BOS greedy for `num_tokens` alone, then inside mixed_requests(); returns {alone, batched}
  // after checking every mixed request finished sanely.
  std::pair<std::vector<int32_t>, std::vector<int32_t>> greedy_alone_and_batched(
      int32_t num_tokens) {
    std::vector<int32_t> alone;
    {
      OfflineEngine engine(*step_, nullptr, config(256));
      const std::vector<CompletionResult> r = engine.generate({make_request({1}, num_tokens)});
      EXPECT_EQ(r[0].status, FinishStatus::kLength) << r[0].error;
      alone = r[0].output_ids;
    }
    OfflineEngine engine(*step_, nullptr, config(256));
    const std::vector<CompletionResult> results = engine.generate(mixed_requests(num_tokens));
    for (const CompletionResult& r : results) {
      EXPECT_NE(r.status, FinishStatus::kError) << r.request_id << ": " << r.error;
      EXPECT_FALSE(r.output_ids.empty()) << r.request_id;
      for (const int32_t t : r.output_ids) {
        EXPECT_TRUE(t >= 0 && t < 512) << r.request_id << " sampled " << t;
      }
    }
    // Host-sampled rows did their host parts: logprobs came back, min_tokens held off EOS.
    EXPECT_EQ(results[6].logprobs.size(), results[6].output_ids.size());
    EXPECT_GE(results[7].output_ids.size(), size_t{10});
    return {alone, results[0].output_ids};
  }

  EngineConfig config(int64_t num_blocks) const {
    return EngineConfig{.block_size = kBlockSize,
                        .num_blocks = num_blocks,
                        .max_model_len = kMaxModelLen,
                        .max_num_batched_tokens = kMaxBatchedTokens,
                        .max_num_seqs = kMaxSeqs};
  }

  // BOS greedy (GPU-sampled) among 15 others: random prompts, GPU-sampled temperature / top-k /
  // top-p / min-p rows, and rows the host samples (penalties, logit_bias, min_tokens, logprobs).
  static std::vector<Request> mixed_requests(int32_t max_tokens) {
    std::vector<Request> requests = {make_request({1}, max_tokens)};
    for (int i = 1; i < 16; ++i) {
      Request r = make_request(random_prompt(5 + 23 * i, static_cast<uint32_t>(i)), 40 + 3 * i);
      r.sampling.seed = 1000 + i;
      switch (i % 8) {
        case 1:
          r.sampling.temperature = 0.8F;
          break;
        case 2:
          r.sampling.temperature = 1.0F;
          r.sampling.top_k = 20;
          break;
        case 3:
          r.sampling.temperature = 0.7F;
          r.sampling.top_p = 0.9F;
          r.sampling.min_p = 0.05F;
          break;
        case 4:
          r.sampling.repetition_penalty = 1.3F;
          break;
        case 5:
          r.sampling.logit_bias = {{7, 5.0F}};
          r.sampling.temperature = 0.9F;
          break;
        case 6:
          r.logprobs = 3;
          break;
        case 7:
          r.sampling.ignore_eos = false;
          r.sampling.min_tokens = 10;
          r.sampling.temperature = 1.0F;
          break;
        default:
          break;
      }
      requests.push_back(std::move(r));
    }
    return requests;
  }

  std::unique_ptr<ops::CudaDevice> device_;
  std::unique_ptr<CudaLlamaModel> model_;
  std::unique_ptr<CudaStepModel> step_;
};

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) {
    ++n;
  }
  return n;
}

TEST_F(CudaEngine, GreedyInAMixedBatchEqualsAloneInF32) {
  load(DType::kF32);
  constexpr int32_t kTokens = 200;
  const std::vector<int32_t> golden = expected_greedy();
  const auto [alone, batched] = greedy_alone_and_batched(kTokens);
  ASSERT_EQ(alone.size(), size_t{kTokens});
  EXPECT_EQ(alone, std::vector<int32_t>(golden.begin(), golden.begin() + kTokens));
  EXPECT_EQ(batched, alone);
}

TEST_F(CudaEngine, GreedyInAMixedBatchBf16Reported) {
  constexpr int32_t kTokens = 200;
  const std::vector<int32_t> golden = expected_greedy();
  const auto [alone, batched] = greedy_alone_and_batched(kTokens);
  ASSERT_EQ(batched.size(), alone.size());
  std::printf(
      "stories260K bf16 on GPU through the engine: greedy alone follows the f32 golden for %zu of "
      "%d tokens; greedy inside a 16-request mixed batch equals greedy alone for %zu\n",
      common_prefix(alone, golden), kTokens, common_prefix(batched, alone));
  // Position 20 is the first where bf16 cannot decide the argmax (see the file header).
  EXPECT_GE(common_prefix(alone, golden), size_t{20});
  EXPECT_GE(common_prefix(batched, alone), size_t{20});
}

TEST_F(CudaEngine, SeededSamplingIsReproducible) {
  std::vector<std::vector<int32_t>> first;
  for (int run = 0; run < 2; ++run) {
    OfflineEngine engine(*step_, nullptr, config(256));
    const std::vector<CompletionResult> results = engine.generate(mixed_requests(60));
    for (size_t i = 0; i < results.size(); ++i) {
      if (run == 0) {
        first.push_back(results[i].output_ids);
      } else {
        EXPECT_EQ(results[i].output_ids, first[i]) << "request " << i;
      }
    }
  }
}

// 8 requests of 300 + 100 tokens on a cache of 40 blocks (640 tokens): most must wait or be
// preempted and recomputed; every one finishes, with the greedy output it gets alone.
TEST_F(CudaEngine, PreemptionOnASmallCacheFinishesEveryRequest) {
  std::vector<Request> requests;
  for (int i = 0; i < 8; ++i) {
    requests.push_back(make_request(random_prompt(300, static_cast<uint32_t>(50 + i)), 100));
  }
  OfflineEngine engine(*step_, nullptr, config(40));
  const std::vector<CompletionResult> results = engine.generate(requests);
  for (const CompletionResult& r : results) {
    EXPECT_EQ(r.status, FinishStatus::kLength) << r.request_id << ": " << r.error;
    EXPECT_EQ(r.output_ids.size(), size_t{100});
  }
  std::printf("8 x (300 + 100) tokens on 640 cache slots: %lld preemptions\n",
              static_cast<long long>(engine.stats().num_preemptions));
}

// An fp8 cache: the planner gives it twice the blocks of the bf16 cache (1 byte per element
// instead of 2, the same memory); the 16-request mixed batch (GPU- and host-sampled rows) and the
// preemption workload finish every request. The greedy text is only reported: one e4m3 rounding
// of every cached value moves the logits by ~3% RMS (model_cuda_test), far more than bf16's
// argmax margins along stories260K's golden path.
TEST_F(CudaEngine, Fp8CacheServesWithTwiceTheBlocks) {
  const GpuCachePlan bf16_plan =
      plan_gpu_num_blocks(*step_, 0.5, kBlockSize, kMaxModelLen, kMaxBatchedTokens, kMaxSeqs);
  load(DType::kBF16, DType::kF8E4M3);
  ASSERT_EQ(step_->cache_shape(1, kBlockSize).dtype, DType::kF8E4M3);
  const GpuCachePlan fp8_plan =
      plan_gpu_num_blocks(*step_, 0.5, kBlockSize, kMaxModelLen, kMaxBatchedTokens, kMaxSeqs);
  EXPECT_EQ(2 * fp8_plan.bytes_per_block, bf16_plan.bytes_per_block);
  EXPECT_GE(static_cast<double>(fp8_plan.num_blocks),
            1.9 * static_cast<double>(bf16_plan.num_blocks));
  constexpr int32_t kTokens = 200;
  const std::vector<int32_t> golden = expected_greedy();
  const auto [alone, batched] = greedy_alone_and_batched(kTokens);
  EXPECT_EQ(alone.size(), size_t{kTokens});
  std::vector<Request> requests;
  for (int i = 0; i < 8; ++i) {
    requests.push_back(make_request(random_prompt(300, static_cast<uint32_t>(50 + i)), 100));
  }
  OfflineEngine engine(*step_, nullptr, config(40));
  for (const CompletionResult& r : engine.generate(requests)) {
    EXPECT_EQ(r.status, FinishStatus::kLength) << r.request_id << ": " << r.error;
    EXPECT_EQ(r.output_ids.size(), size_t{100});
  }
  std::printf(
      "fp8 cache: %lld blocks (%lld bytes each) vs bf16 %lld (%lld) at 0.5 of the GPU; greedy "
      "alone follows the f32 golden for %zu of %d tokens, inside the mixed batch equals alone for "
      "%zu; 8 x (300 + 100) tokens on 640 slots: %lld preemptions\n",
      static_cast<long long>(fp8_plan.num_blocks), static_cast<long long>(fp8_plan.bytes_per_block),
      static_cast<long long>(bf16_plan.num_blocks),
      static_cast<long long>(bf16_plan.bytes_per_block), common_prefix(alone, golden), kTokens,
      common_prefix(batched, alone), static_cast<long long>(engine.stats().num_preemptions));
}

// Pipelined steps (engine_core.h) against step by step, in f32 (batch-independent argmax):
// GPU-sampled greedy and seeded rows, EOS and stop-token endings seen one step late,
// max_tokens 1 and 2, two host-sampled rows that keep the first steps in order, and a cache
// small enough to preempt. Every output must be identical, and most steps pipelined.
TEST_F(CudaEngine, PipelinedStepsMatchStepByStep) {
  load(DType::kF32);
  std::vector<Request> requests;
  for (int i = 0; i < 14; ++i) {
    Request r = make_request(random_prompt(20 + 37 * i, static_cast<uint32_t>(300 + i)),
                             i == 3 ? 1 : (i == 4 ? 2 : 60 + 5 * i));
    r.sampling.seed = 77 + i;
    if (i % 3 == 1) {
      r.sampling.temperature = 0.9F;
      r.sampling.top_k = 40;
      r.sampling.top_p = 0.95F;
    }
    if (i % 4 == 2) {
      r.sampling.ignore_eos = false;  // stories end with EOS within a few hundred tokens
      r.sampling.max_tokens = 400;
    }
    if (i == 5) {
      r.sampling.stop_token_ids = {432};  // the golden text's most frequent token
    }
    if (i >= 12) {
      r.sampling.repetition_penalty = 1.2F;  // host-sampled: in-order steps while they run
      r.sampling.max_tokens = 12;
    }
    requests.push_back(std::move(r));
  }
  std::vector<CompletionResult> results[2];
  EngineStats stats[2];
  for (const bool pipelined : {false, true}) {
    EngineConfig c = config(60);  // 960 slots for ~4,500 prompt tokens: preemption
    c.pipelined_steps = pipelined;
    OfflineEngine engine(*step_, nullptr, c);
    results[pipelined ? 1 : 0] = engine.generate(requests);
    stats[pipelined ? 1 : 0] = engine.stats();
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const CompletionResult& a = results[0][i];
    const CompletionResult& b = results[1][i];
    EXPECT_NE(a.status, FinishStatus::kError) << i << ": " << a.error;
    EXPECT_EQ(b.status, a.status) << i << ": " << b.error;
    EXPECT_EQ(b.output_ids, a.output_ids) << "request " << i;
  }
  EXPECT_EQ(results[0][3].output_ids.size(), 1U);
  EXPECT_EQ(results[0][4].output_ids.size(), 2U);
  EXPECT_EQ(stats[0].num_pipelined_steps, 0);
  EXPECT_GT(stats[1].num_pipelined_steps, stats[1].num_steps / 2);
  EXPECT_GT(stats[1].num_preemptions, 0);
  std::printf(
      "pipelined: %lld of %lld steps, %lld preemptions (step by step: %lld steps, %lld "
      "preemptions)\n",
      static_cast<long long>(stats[1].num_pipelined_steps),
      static_cast<long long>(stats[1].num_steps), static_cast<long long>(stats[1].num_preemptions),
      static_cast<long long>(stats[0].num_steps), static_cast<long long>(stats[0].num_preemptions));
}

// stories260K's tokenizer from $SWIFTKV_GPU_DATA/tok512.bin (scripts/gpu-check.sh copies it
// from ../shared), written as tokenizer.json into a temp directory once per process.
const Tokenizer& stories_tokenizer() {
  static const Tokenizer tokenizer = [] {
    const std::string bin = gpu_test::gpu_data_dir() + "/tok512.bin";
    if (!std::filesystem::exists(bin)) {
      throw Error("missing " + bin + ": copy ../shared/models/stories260K/tok512.bin there");
    }
    const std::string dir = (std::filesystem::temp_directory_path() /
                             ("swiftkv-gpu-test-" + std::to_string(::getpid()) + "-tok512"))
                                .string();
    write_hf_tokenizer_files(bin, dir);
    return Tokenizer::load(dir);
  }();
  return tokenizer;
}

struct Collected {
  std::vector<int32_t> ids;
  std::string text;
  FinishStatus status = FinishStatus::kRunning;
};

// Runs `requests` through an EngineCore, one step() at a time, and aborts request i once
// `abort_after[i]` (> 0) of its tokens have been delivered. abort() first delivers the tokens
// already computed: step by step, a step's tokens are delivered during the next step, so one
// more token is computed than delivered when the abort comes; pipelined, the next step is
// still in flight and nothing computed is undelivered.
std::vector<Collected> run_core(EngineCore& core, const std::vector<Request>& requests,
                                const std::vector<size_t>& abort_after) {
  std::vector<Collected> out(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    core.validate(requests[i]);
    core.add(requests[i], [&out, i](const RequestOutput& o) {
      out[i].ids.insert(out[i].ids.end(), o.new_token_ids.begin(), o.new_token_ids.end());
      out[i].text += o.new_text;
      out[i].status = o.status;
    });
  }
  while (core.has_unfinished()) {
    core.step();
    for (size_t i = 0; i < requests.size(); ++i) {
      if (abort_after[i] > 0 && out[i].status == FinishStatus::kRunning &&
          out[i].ids.size() >= abort_after[i]) {
        EXPECT_TRUE(core.abort(requests[i].id)) << requests[i].id;
      }
    }
  }
  return out;
}

// Pipelined steps against step by step, in f32, where the host ends sequences the device has
// already been asked to continue: stop strings (found in the late output work while the next
// step is queued) and client aborts between steps, on a cache small enough to preempt. Ids,
// text and finish reasons must be identical; every block must come back; and the same core then
// still reproduces the golden greedy output (nothing stale left in the pending-token rows).
TEST_F(CudaEngine, PipelinedStopStringsAndAbortsMatchStepByStep) {
  load(DType::kF32);
  const Tokenizer& tokenizer = stories_tokenizer();
  const std::vector<std::vector<std::string>> stops = {{"."},    {" the"}, {" was", "!"}, {"Lily"},
                                                       {"zzzq"}, {"\n"},   {"a"},         {" and"}};
  std::vector<Request> requests;
  std::vector<size_t> abort_after;
  for (int i = 0; i < 16; ++i) {
    Request r = make_request(random_prompt(10 + 23 * i, static_cast<uint32_t>(900 + i)), 120);
    r.id = "r";
    r.id += std::to_string(i);
    r.sampling.seed = 31 + i;
    if (i % 3 == 2) {
      r.sampling.temperature = 0.8F;
      r.sampling.top_p = 0.9F;
    }
    if (i < 8) {
      r.sampling.stop = stops[static_cast<size_t>(i)];
    }
    requests.push_back(std::move(r));
    abort_after.push_back(i >= 11 ? static_cast<size_t>(1 + 9 * (i - 11)) : 0);  // 1..37
  }
  std::vector<Collected> results[2];
  EngineStats stats[2];
  for (const bool pipelined : {false, true}) {
    EngineConfig c = config(50);  // 800 slots for ~2,900 prompt tokens: preemption
    c.pipelined_steps = pipelined;
    EngineCore core(*step_, &tokenizer, c);
    results[pipelined ? 1 : 0] = run_core(core, requests, abort_after);
    stats[pipelined ? 1 : 0] = core.stats();
    EXPECT_EQ(stats[pipelined ? 1 : 0].num_blocks_used, 0) << "pipelined " << pipelined;
    // The same core afterwards: BOS greedy alone reproduces the golden output.
    Request bos = make_request({1}, 100);
    bos.id = "after";
    const std::vector<Collected> after = run_core(core, {bos}, {0});
    const std::vector<int32_t> golden = expected_greedy();
    EXPECT_EQ(after[0].ids, std::vector<int32_t>(golden.begin(), golden.begin() + 100))
        << "pipelined " << pipelined;
  }
  int stopped_by_string = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    const Collected& a = results[0][i];
    const Collected& b = results[1][i];
    EXPECT_EQ(b.status, a.status) << "request " << i;
    if (abort_after[i] > 0) {
      EXPECT_EQ(a.status, FinishStatus::kAbort) << "request " << i;
      // Aborted after k delivered tokens: k or k + 1 (one computed, not yet delivered), and
      // the shorter output is the longer one's beginning.
      for (const Collected* c : {&a, &b}) {
        EXPECT_TRUE(c->ids.size() == abort_after[i] || c->ids.size() == abort_after[i] + 1)
            << "request " << i << ": " << c->ids.size() << " tokens";
      }
      const Collected& shorter = a.ids.size() <= b.ids.size() ? a : b;
      const Collected& longer = a.ids.size() <= b.ids.size() ? b : a;
      EXPECT_EQ(shorter.ids, std::vector<int32_t>(longer.ids.begin(),
                                                  longer.ids.begin() + static_cast<std::ptrdiff_t>(
                                                                           shorter.ids.size())))
          << "request " << i;
      EXPECT_EQ(longer.text.compare(0, shorter.text.size(), shorter.text), 0) << "request " << i;
      continue;
    }
    EXPECT_EQ(b.ids, a.ids) << "request " << i;
    EXPECT_EQ(b.text, a.text) << "request " << i;
    EXPECT_TRUE(a.status == FinishStatus::kStop || a.status == FinishStatus::kLength)
        << "request " << i;
    if (i < 8 && a.status == FinishStatus::kStop) {
      ++stopped_by_string;
      for (const std::string& stop : requests[i].sampling.stop) {
        EXPECT_EQ(a.text.find(stop), std::string::npos) << "request " << i << ": " << a.text;
      }
    }
  }
  EXPECT_GE(stopped_by_string, 4);
  EXPECT_GT(stats[1].num_pipelined_steps, stats[1].num_steps / 2);
  EXPECT_GT(stats[1].num_preemptions, 0);
  std::printf(
      "stop strings and aborts: %d requests ended by a stop string; pipelined %lld of %lld "
      "steps, %lld preemptions (step by step: %lld steps)\n",
      stopped_by_string, static_cast<long long>(stats[1].num_pipelined_steps),
      static_cast<long long>(stats[1].num_steps), static_cast<long long>(stats[1].num_preemptions),
      static_cast<long long>(stats[0].num_steps));
}

TEST_F(CudaEngine, GpuMemoryPlanningSizesTheCacheOrRefuses) {
  const GpuCachePlan plan =
      plan_gpu_num_blocks(*step_, 0.5, kBlockSize, kMaxModelLen, kMaxBatchedTokens, kMaxSeqs);
  const ops::DeviceMemoryInfo memory = ops::device_memory_info(device_->context());
  EXPECT_EQ(plan.total_bytes, memory.total_bytes);
  EXPECT_GE(plan.num_blocks, kMaxModelLen / kBlockSize);
  // The planned cache fits: allocate it (half of the device, minus what is in use) and run.
  OfflineEngine engine(*step_, nullptr, config(plan.num_blocks));
  const std::vector<CompletionResult> r = engine.generate({make_request({1}, 8)});
  EXPECT_EQ(r[0].status, FinishStatus::kLength) << r[0].error;
  EXPECT_THROW(
      plan_gpu_num_blocks(*step_, 1e-6, kBlockSize, kMaxModelLen, kMaxBatchedTokens, kMaxSeqs),
      Error);
}

}  // namespace
}  // namespace swiftkv
