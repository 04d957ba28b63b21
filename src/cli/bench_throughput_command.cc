// `swiftkv bench throughput`: offline throughput of the serving engine, like
// `vllm bench throughput --dataset-name random` (reference/serving-notes.md §2.2).
//
// --num-prompts prompts of --input-len uniformly random token ids, each generating exactly
// --output-len tokens (ignore_eos, temperature 1, top_p 1, seeded per request), run through the
// offline API (continuous batching, chunked prefill, prefix caching) in one generate() call.
// Reported over the wall time of that call, with vLLM's definitions: requests/s, total tokens/s
// ((prompt + output tokens) / s) and output tokens/s. Model loading and KV cache allocation are
// not timed. Text is detokenized when the model directory has a tokenizer (vLLM's default).
// --device cuda runs the CUDA model (bf16; `random:` weights generated on the device) with its
// KV cache (bf16, or e4m3 with --kv-cache-dtype fp8) planned from --gpu-memory-utilization after
// a worst-case profiling step, as `serve`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/engine_model.h"
#include "cli/runtime_options.h"
#include "core/error.h"
#include "core/logging.h"
#include "engine/capacity.h"
#include "engine/offline_engine.h"
#include "model/loader.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv::cli {
namespace {

struct ThroughputOptions {
  std::string model;
  int64_t swiftkv_layers = 0;
  int64_t group_size = 1;
  std::string dtype = "bf16";
  int64_t input_len = 128;
  int64_t output_len = 64;
  int64_t num_prompts = 64;
  int64_t max_num_batched_tokens = 8192;
  int64_t max_num_seqs = 256;
  int64_t max_model_len = 0;
  int64_t kv_cache_memory = 0;  // bytes; 0 = enough for max_num_seqs requests at once
  std::string device = "cpu";
  int tensor_parallel_size = 1;         // --device cuda: GPUs the model is split over
  std::string kv_cache_dtype = "auto";  // auto | bf16 | fp8 (CUDA only)
  double gpu_memory_utilization = 0.9;
  bool no_prefix_caching = false;
  bool no_pipelined_steps = false;
  uint64_t seed = 0;
  RuntimeOptions runtime;
};

constexpr int64_t kBlockSize = 16;

void run_throughput(const ThroughputOptions& o) {
  const EngineDevice device = parse_device(o.device);
  const std::optional<DType> kv_cache_dtype =
      parse_kv_cache_dtype(o.kv_cache_dtype, device, DType::kBF16);
  LoadOptions load;
  load.mode = parse_swiftkv_mode(o.runtime.swiftkv);
  load.random_swiftkv_layers = o.swiftkv_layers;
  load.random_group_size = o.group_size;
  load.random_dtype = parse_dtype(o.dtype);
  CudaModelOptions cuda;
  cuda.max_num_batched_tokens = o.max_num_batched_tokens;
  cuda.max_num_seqs = o.max_num_seqs;
  cuda.max_num_logits = o.max_num_seqs;
  cuda.max_model_len = o.max_model_len;  // 0: the model's max_position_embeddings
  cuda.kv_cache_dtype = kv_cache_dtype;
  EngineModel model(o.model, load, device, o.runtime, cuda, o.tensor_parallel_size);
  std::unique_ptr<Tokenizer> tokenizer;
  if (std::filesystem::exists(std::filesystem::path(o.model) / "tokenizer.json")) {
    tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(o.model));
  }

  const int64_t max_model_len =
      o.max_model_len > 0 ? o.max_model_len : model.config().max_position_embeddings;
  if (o.input_len + o.output_len > max_model_len) {
    throw Error(str_cat("--input-len ", o.input_len, " + --output-len ", o.output_len,
                        " exceeds the context of ", max_model_len, " tokens"));
  }
  const int64_t bytes_per_block = kBlockSize * model.bytes_per_token();
  int64_t num_blocks = 0;
  if (device == EngineDevice::kCuda) {
    num_blocks = plan_gpu_num_blocks(model.step(), o.gpu_memory_utilization, kBlockSize,
                                     max_model_len, o.max_num_batched_tokens, o.max_num_seqs)
                     .num_blocks;
  } else if (o.kv_cache_memory > 0) {
    num_blocks = plan_num_blocks(model.cpu_model(), o.kv_cache_memory, kBlockSize, max_model_len);
  } else {
    const int64_t per_request = (o.input_len + o.output_len + kBlockSize - 1) / kBlockSize;
    num_blocks = std::max(std::min(o.num_prompts, o.max_num_seqs) * per_request,
                          (max_model_len + kBlockSize - 1) / kBlockSize);
  }
  log_info("KV cache: ", num_blocks, " blocks of ", kBlockSize, " tokens (",
           num_blocks * kBlockSize, " tokens, ", num_blocks * bytes_per_block / (1 << 20),
           " MiB of ", dtype_name(model.kv_cache_dtype()), ")");

  OfflineEngine engine(model.step(), tokenizer.get(),
                       EngineConfig{.block_size = kBlockSize,
                                    .num_blocks = num_blocks,
                                    .max_model_len = max_model_len,
                                    .max_num_batched_tokens = o.max_num_batched_tokens,
                                    .max_num_seqs = o.max_num_seqs,
                                    .max_queued_requests = o.num_prompts,
                                    .enable_prefix_caching = !o.no_prefix_caching,
                                    .pipelined_steps = !o.no_pipelined_steps});

  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int32_t> token(0,
                                               static_cast<int32_t>(model.config().vocab_size - 1));
  std::vector<Request> requests(static_cast<size_t>(o.num_prompts));
  for (size_t i = 0; i < requests.size(); ++i) {
    Request& r = requests[i];
    r.prompt_ids.resize(static_cast<size_t>(o.input_len));
    for (int32_t& t : r.prompt_ids) {
      t = token(rng);
    }
    r.sampling.temperature = 1.0F;
    r.sampling.top_p = 1.0F;
    r.sampling.ignore_eos = true;
    r.sampling.max_tokens = static_cast<int32_t>(o.output_len);
    r.sampling.seed = o.seed + i;
  }

  const auto start = std::chrono::steady_clock::now();
  const std::vector<CompletionResult> results = engine.generate(std::move(requests));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  for (const CompletionResult& r : results) {
    if (r.status == FinishStatus::kError) {
      throw Error(str_cat("request ", r.request_id, " failed: ", r.error));
    }
    prompt_tokens += r.num_prompt_tokens;
    output_tokens += static_cast<int64_t>(r.output_ids.size());
  }
  const EngineStats stats = engine.stats();
  const auto n = static_cast<double>(results.size());
  std::printf("Throughput: %.2f requests/s, %.2f total tokens/s, %.2f output tokens/s\n",
              n / seconds, static_cast<double>(prompt_tokens + output_tokens) / seconds,
              static_cast<double>(output_tokens) / seconds);
  std::printf("Total num prompt tokens: %lld, total num output tokens: %lld, elapsed %.3f s\n",
              static_cast<long long>(prompt_tokens), static_cast<long long>(output_tokens),
              seconds);
  std::printf(
      "model=%s params=%.1fM swiftkv=%s device=%s num_prompts=%lld input_len=%lld "
      "output_len=%lld max_num_batched_tokens=%lld max_num_seqs=%lld kv_blocks=%lld "
      "kv_cache_dtype=%s preemptions=%lld prefix_cache_hits=%lld/%lld\n",
      o.model.c_str(), static_cast<double>(model.num_parameters()) / 1e6, o.runtime.swiftkv.c_str(),
      model.description().c_str(), static_cast<long long>(o.num_prompts),
      static_cast<long long>(o.input_len), static_cast<long long>(o.output_len),
      static_cast<long long>(o.max_num_batched_tokens), static_cast<long long>(o.max_num_seqs),
      static_cast<long long>(num_blocks), std::string(dtype_name(model.kv_cache_dtype())).c_str(),
      static_cast<long long>(stats.num_preemptions),
      static_cast<long long>(stats.prefix_cache_hits),
      static_cast<long long>(stats.prefix_cache_queries));
  std::printf(
      "engine thread: %lld steps (%lld pipelined); schedule %.3f s, model step + sampling %.3f s, "
      "outputs %.3f s\n",
      static_cast<long long>(stats.num_steps), static_cast<long long>(stats.num_pipelined_steps),
      stats.schedule_seconds, stats.execute_seconds, stats.output_seconds);
}

}  // namespace

void register_bench_throughput(CLI::App& bench) {
  auto o = std::make_shared<ThroughputOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "throughput", "Offline throughput of the serving engine on random prompts (vLLM-style)");
  cmd->add_option("--model", o->model, "Model directory or random:<shape>")->required();
  cmd->add_option("--swiftkv-layers", o->swiftkv_layers,
                  "random: models only: number of SwiftKV layers (0 = plain Llama)");
  cmd->add_option("--group-size", o->group_size, "random: models only: AcrossKV group size");
  cmd->add_option("--dtype", o->dtype, "random: models only: weight dtype")->capture_default_str();
  cmd->add_option("--input-len", o->input_len, "Prompt tokens per request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--output-len", o->output_len, "Generated tokens per request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--num-prompts", o->num_prompts, "Number of requests")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-num-batched-tokens", o->max_num_batched_tokens,
                  "Token budget of one engine step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-num-seqs", o->max_num_seqs, "Sequences running at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-model-len", o->max_model_len,
                  "Context length (default: max_position_embeddings)");
  cmd->add_option("--kv-cache-memory", o->kv_cache_memory,
                  "KV cache bytes, e.g. 4GiB (default: enough for max-num-seqs requests)")
      ->transform(CLI::AsSizeValue(/*kb_is_1000=*/false));
  add_device_option(*cmd, o->device);
  add_tensor_parallel_option(*cmd, o->tensor_parallel_size);
  add_kv_cache_dtype_option(*cmd, o->kv_cache_dtype);
  cmd->add_option("--gpu-memory-utilization", o->gpu_memory_utilization,
                  "--device cuda: fraction of GPU memory for weights, activations and the KV cache")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_flag("--no-prefix-caching", o->no_prefix_caching, "Disable prefix caching");
  cmd->add_flag("--no-pipelined-steps", o->no_pipelined_steps,
                "CUDA: wait for each step's tokens before queueing the next");
  cmd->add_option("--seed", o->seed, "Seed of the random prompts and sampling")
      ->capture_default_str();
  add_runtime_options(*cmd, o->runtime);
  cmd->callback([o] { run_throughput(*o); });
}

}  // namespace swiftkv::cli
