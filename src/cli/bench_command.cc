// `swiftkv bench latency`: prefill and decode speed of one sequence on this machine.
//
// Prefill: one forward pass over --prompt-len random tokens (logits for the last one only).
// Decode: --decode-steps single-token steps after that prompt. Each repeat starts on a fresh
// cache; the median of --repeat runs is reported, with the model's parameter count.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/runtime_options.h"
#include "core/error.h"
#include "engine/single_sequence_cache.h"
#include "model/loader.h"

namespace swiftkv::cli {
namespace {

struct BenchOptions {
  std::string model;
  int64_t swiftkv_layers = 0;
  int64_t group_size = 1;
  std::string dtype = "bf16";
  int64_t prompt_len = 512;
  int64_t decode_steps = 64;
  int repeat = 3;
  RuntimeOptions runtime;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void run_latency(const BenchOptions& o) {
  LoadOptions load;
  load.mode = parse_swiftkv_mode(o.runtime.swiftkv);
  load.random_swiftkv_layers = o.swiftkv_layers;
  load.random_group_size = o.group_size;
  load.random_dtype = parse_dtype(o.dtype);
  const auto model = load_model(o.model, load);
  const Runtime runtime = make_runtime(o.runtime);
  const int64_t vocab = model->config().vocab_size;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(o.prompt_len));
  for (int32_t& t : prompt) {
    t = token(rng);
  }

  using Clock = std::chrono::steady_clock;
  std::vector<double> prefill_rates;
  std::vector<double> decode_rates;
  for (int r = 0; r < o.repeat; ++r) {
    const SingleSequenceCache cache(*model, o.prompt_len + o.decode_steps);
    auto start = Clock::now();
    model->forward(runtime.ctx, cache.make_batch(prompt, 0, 1), cache.cache());
    const double prefill = std::chrono::duration<double>(Clock::now() - start).count();
    start = Clock::now();
    for (int64_t step = 0; step < o.decode_steps; ++step) {
      const int32_t next[1] = {token(rng)};
      model->forward(runtime.ctx, cache.make_batch(next, o.prompt_len + step, 1), cache.cache());
    }
    const double decode = std::chrono::duration<double>(Clock::now() - start).count();
    prefill_rates.push_back(static_cast<double>(o.prompt_len) / prefill);
    decode_rates.push_back(static_cast<double>(o.decode_steps) / decode);
  }
  std::printf(
      "model=%s params=%.1fM swiftkv=%s threads=%d backend=%s prompt_len=%lld "
      "decode_steps=%lld | prefill %.1f tokens/s | decode %.1f tokens/s (median of %d)\n",
      o.model.c_str(), static_cast<double>(model->num_parameters()) / 1e6,
      o.runtime.swiftkv.c_str(), o.runtime.threads, o.runtime.backend.c_str(),
      static_cast<long long>(o.prompt_len), static_cast<long long>(o.decode_steps),
      median(prefill_rates), median(decode_rates), o.repeat);
}

}  // namespace

void register_bench(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = bench->add_subcommand("latency", "Prefill and decode speed of one sequence");
  cmd->add_option("--model", o->model, "Model directory or random:<shape>")->required();
  cmd->add_option("--swiftkv-layers", o->swiftkv_layers,
                  "random: models only: number of SwiftKV layers (0 = plain Llama)");
  cmd->add_option("--group-size", o->group_size, "random: models only: AcrossKV group size");
  cmd->add_option("--dtype", o->dtype, "random: models only: weight dtype")->capture_default_str();
  cmd->add_option("--prompt-len", o->prompt_len, "Prompt tokens")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--decode-steps", o->decode_steps, "Decode steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--repeat", o->repeat, "Repetitions (median reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_runtime_options(*cmd, o->runtime);
  cmd->callback([o] { run_latency(*o); });
  register_bench_throughput(*bench);
  register_bench_serve(*bench);
  register_bench_gpu(*bench);
}

}  // namespace swiftkv::cli
