// `swiftkv bench gpu`: prefill and decode throughput of the CUDA forward, with the hardware
// ceilings measured in the same run (docs/benchmarks.md has the results and the commands).
//
// Prefill: --prefill-seqs prompts of --prompt-len random tokens in one step (the last token of
// each needs logits). Decode: --decode-batches sequences of one token each against
// --context tokens of cached K/V (random cache contents: decode speed does not depend on the
// values; --kv-cache-dtype fp8 makes the cache e4m3), CUDA graphs as in serving. Each workload
// is warmed up (graph capture, cuBLASLt plans) and timed over --iters steps with the device
// synchronised around them; logits stay on the device (no sampling). Ceilings: a dense bf16
// GEMM 8192³ through the same cuBLASLt wrapper, and a device-to-device copy of 2 GiB (bytes
// read + written).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/engine_model.h"
#include "core/error.h"
#include "core/logging.h"
#include "model/loader.h"
#include "ops/ops.h"

namespace swiftkv::cli {
namespace {

struct GpuBenchOptions {
  std::string model = "random:llama-3.1-8b";
  int64_t swiftkv_layers = 0;
  int64_t group_size = 1;
  std::vector<std::string> swiftkv = {"off", "on"};
  int64_t prefill_seqs = 4;
  int64_t prompt_len = 2048;
  std::vector<int64_t> decode_batches = {1, 16, 64, 256};
  int64_t context = 2048;
  int iters = 10;
  bool ceilings = true;
  bool graphs = true;
  bool one_token_fusion = true;
  std::string dtype = "bf16";  // the CUDA model's weights, activations and cache: bf16 or f32
  std::string kv_cache_dtype = "auto";  // auto | bf16 | fp8 (bf16 model only)
};

using Clock = std::chrono::steady_clock;

// Seconds per call of `step`, over `iters` calls after `warmup` calls, device synchronised.
template <typename Step>
double time_steps(const ops::Context& ctx, int warmup, int iters, Step&& step) {
  for (int i = 0; i < warmup; ++i) {
    step(i);
  }
  ops::synchronize(ctx);
  const auto start = Clock::now();
  for (int i = 0; i < iters; ++i) {
    step(warmup + i);
  }
  ops::synchronize(ctx);
  return std::chrono::duration<double>(Clock::now() - start).count() / iters;
}

struct Ceilings {
  double gemm_tflops = 0;
  double copy_gbps = 0;
};

// Dense bf16 GEMM rate (8192^3, TFLOP/s), the ceiling of the prefill rows.
double measure_gemm_tflops(const ops::Context& ctx) {
  constexpr int64_t kN = 8192;
  const Tensor x = ops::device_empty(ctx, {kN, kN}, DType::kBF16);
  const Tensor w = ops::device_empty(ctx, {kN, kN}, DType::kBF16);
  const Tensor out = ops::device_empty(ctx, {kN, kN}, DType::kBF16);
  ops::fill_random_uniform(ctx, x, 1, 0.0F, 1.0F);  // never zeros: they run faster
  ops::fill_random_uniform(ctx, w, 2, 0.0F, 1.0F);
  const double gemm = time_steps(ctx, 3, 20, [&](int) { ops::linear(ctx, out, x, w); });
  return 2.0 * kN * kN * kN / gemm / 1e12;
}

// Device-to-device copy bandwidth of 2 GiB (GB/s, read + write), the ceiling of the decode rows.
double measure_copy_gbps(const ops::Context& ctx) {
  constexpr int64_t kBytes = int64_t{2} << 30;
  const Tensor src = ops::device_empty(ctx, {kBytes / 2}, DType::kBF16);
  const Tensor dst = ops::device_empty(ctx, {kBytes / 2}, DType::kBF16);
  ops::fill_random_uniform(ctx, src, 3, 0.0F, 1.0F);
  const double copy = time_steps(ctx, 2, 20, [&](int) { ops::copy(ctx, dst, src); });
  return 2.0 * kBytes / copy / 1e9;
}

// Sequences [0, num_seqs) own consecutive runs of blocks_per_seq blocks (block size 16).
struct Layout {
  int64_t blocks_per_seq;
  int64_t block_size = 16;
};

BatchView make_batch(const Layout& layout, const std::vector<std::vector<int32_t>>& tokens,
                     const std::vector<int32_t>& starts, bool one_logit) {
  const auto num_seqs = static_cast<int64_t>(tokens.size());
  std::vector<int32_t> ids;
  std::vector<int32_t> positions;
  std::vector<int32_t> slots;
  std::vector<int32_t> query_start = {0};
  std::vector<int32_t> kv_lens;
  std::vector<int32_t> tables;
  std::vector<int32_t> num_logits;
  for (int64_t s = 0; s < num_seqs; ++s) {
    const auto& seq = tokens[static_cast<size_t>(s)];
    const int32_t start = starts[static_cast<size_t>(s)];
    for (size_t i = 0; i < seq.size(); ++i) {
      const auto pos = static_cast<int32_t>(start + static_cast<int32_t>(i));
      ids.push_back(seq[i]);
      positions.push_back(pos);
      const int64_t block = s * layout.blocks_per_seq + pos / layout.block_size;
      slots.push_back(static_cast<int32_t>(block * layout.block_size + pos % layout.block_size));
    }
    query_start.push_back(static_cast<int32_t>(ids.size()));
    kv_lens.push_back(start + static_cast<int32_t>(seq.size()));
    for (int64_t b = 0; b < layout.blocks_per_seq; ++b) {
      tables.push_back(static_cast<int32_t>(s * layout.blocks_per_seq + b));
    }
    num_logits.push_back(one_logit ? 1 : static_cast<int32_t>(seq.size()));
  }
  const auto n = static_cast<int64_t>(ids.size());
  BatchView batch;
  batch.token_ids = Tensor::from_i32({n}, ids);
  batch.positions = Tensor::from_i32({n}, positions);
  batch.slot_mapping = Tensor::from_i32({n}, slots);
  batch.attention.query_start_loc = Tensor::from_i32({num_seqs + 1}, query_start);
  batch.attention.kv_lens = Tensor::from_i32({num_seqs}, kv_lens);
  batch.attention.block_tables = Tensor::from_i32({num_seqs, layout.blocks_per_seq}, tables);
  batch.num_logits = Tensor::from_i32({num_seqs}, num_logits);
  return batch;
}

struct ModelCounts {
  double layer_matmul_params = 0;  // the weights a token's decoder layers read (baseline wiring)
  double lm_head_params = 0;
  double decode_weight_bytes = 0;  // weights one decode step streams in this mode
  double kv_bytes_per_token = 0;   // all cache layers, K and V
};

ModelCounts count(const CudaLlamaModel& model) {
  const ModelConfig& c = model.config();
  const double hidden = static_cast<double>(c.hidden_size);
  const double q = static_cast<double>(c.num_attention_heads * c.head_dim);
  const double kv = static_cast<double>(c.num_key_value_heads * c.head_dim);
  const double mlp = 3.0 * hidden * static_cast<double>(c.intermediate_size);
  const auto layers = static_cast<double>(c.num_hidden_layers);
  ModelCounts m;
  m.layer_matmul_params = layers * (hidden * (q + 2 * kv) + q * hidden + mlp);
  m.lm_head_params = hidden * static_cast<double>(c.vocab_size);
  double decode_params = m.layer_matmul_params + m.lm_head_params;
  if (model.swiftkv_active()) {
    // Later layers read q_proj_swiftkv instead of q/k/v; the leaders' K/V GEMM reads theirs.
    const double later = static_cast<double>(c.num_hidden_layers - c.num_key_value_layers);
    const double leaders = later / static_cast<double>(c.key_value_group_size);
    decode_params += later * (-2 * kv * hidden) + leaders * 2 * kv * hidden;
  }
  const auto element_bytes = static_cast<double>(dtype_size(model.options().dtype));
  m.decode_weight_bytes = element_bytes * decode_params;
  m.kv_bytes_per_token = static_cast<double>(model.num_cache_layers()) * 2.0 * kv *
                         static_cast<double>(dtype_size(model.kv_cache_dtype()));
  return m;
}

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

// What every workload of a run shares: the options, the device context, the model options and
// cache layouts, the ceilings, and the random stream of the tokens.
struct BenchRun {
  const GpuBenchOptions& o;
  const ops::Context& ctx;
  CudaModelOptions cuda_options = {};
  Layout prefill_layout = {.blocks_per_seq = 0};
  Layout decode_layout = {.blocks_per_seq = 0};
  int64_t num_blocks = 0;
  int warmup = 3;
  Ceilings ceilings = {};
  std::mt19937 rng{7};
  double prefill_off_rate = 0;  // tokens/s of the `off` prefill, for the speed-up of the others
};

// One model of the run (SwiftKV mode `mode_name`), its cache filled with random values.
struct BenchModel {
  std::unique_ptr<CudaLlamaModel> model;
  ModelCounts counts;
  KvCache cache;
  std::string label;
  std::string mode_name;
};

BenchModel load_bench_model(const BenchRun& run, const std::string& mode_name) {
  const GpuBenchOptions& o = run.o;
  LoadOptions load;
  load.mode = mode_name == "on"       ? SwiftKVMode::kOn
              : mode_name == "noskip" ? SwiftKVMode::kNoSkip
                                      : SwiftKVMode::kOff;
  load.random_swiftkv_layers = o.swiftkv_layers;
  load.random_group_size = o.group_size;
  auto model = load_cuda_model(o.model, load, run.ctx, run.cuda_options);
  const ModelCounts counts = count(*model);
  KvCache cache(run.ctx, model->cache_shape(run.num_blocks, 16));
  for (int64_t layer = 0; layer < cache.shape().num_cache_layers; ++layer) {
    ops::fill_random_uniform(run.ctx, cache.keys(layer), 100 + 2 * static_cast<uint64_t>(layer), 0,
                             1.0F);
    ops::fill_random_uniform(run.ctx, cache.values(layer), 101 + 2 * static_cast<uint64_t>(layer),
                             0, 1.0F);
  }
  std::string label = str_cat(
      o.model,
      o.swiftkv_layers > 0 ? str_cat(" (", o.swiftkv_layers, " SwiftKV layers)") : std::string(),
      model->kv_cache_dtype() == DType::kF8E4M3 ? ", fp8 KV cache" : "");
  return {std::move(model), counts, std::move(cache), std::move(label), mode_name};
}

int32_t random_token(BenchRun& run, const BenchModel& m) {
  std::uniform_int_distribution<int32_t> token(
      0, static_cast<int32_t>(m.model->config().vocab_size - 1));
  return token(run.rng);
}

// The table row of the prefill workload.
std::string prefill_row(BenchRun& run, BenchModel& m) {
  const GpuBenchOptions& o = run.o;
  const ModelConfig& c = m.model->config();
  std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(o.prefill_seqs));
  for (auto& p : prompts) {
    p.resize(static_cast<size_t>(o.prompt_len));
    for (int32_t& t : p) {
      t = random_token(run, m);
    }
  }
  const BatchView batch = make_batch(run.prefill_layout, prompts,
                                     std::vector<int32_t>(prompts.size(), 0), /*one_logit=*/true);
  const double seconds = time_steps(run.ctx, 2, std::max(1, o.iters / 2),
                                    [&](int) { m.model->forward_device(run.ctx, batch, m.cache); });
  const double tokens = static_cast<double>(o.prefill_seqs * o.prompt_len);
  const double n = static_cast<double>(o.prompt_len);
  // Baseline-model FLOPs (the paper's normalisation for SwiftKV): decoder-layer GEMMs over
  // every token, lm_head over the logit rows, causal attention QKᵀ and PV.
  const double attention_flops = 4.0 * static_cast<double>(c.head_dim) *
                                 static_cast<double>(c.num_attention_heads) *
                                 static_cast<double>(c.num_hidden_layers) * n * (n + 1) / 2 *
                                 static_cast<double>(o.prefill_seqs);
  const double flops = 2.0 * m.counts.layer_matmul_params * tokens +
                       2.0 * m.counts.lm_head_params * static_cast<double>(o.prefill_seqs) +
                       attention_flops;
  const double tflops = flops / seconds / 1e12;
  const double rate = tokens / seconds;
  std::string util;
  if (m.mode_name == "off") {
    run.prefill_off_rate = rate;
    util = fmt("%.0f TFLOP/s", tflops);
    if (run.ceilings.gemm_tflops > 0) {
      util += str_cat(" = ", fmt("%.1f", 100 * tflops / run.ceilings.gemm_tflops), "% MFU");
    }
  } else {
    // SwiftKV skips most of the later layers' FLOPs: report the baseline-model FLOPs per
    // second (the paper's normalisation) and the speed-up over `off`.
    util = fmt("%.0f baseline-model TFLOP/s", tflops);
    if (run.prefill_off_rate > 0) {
      util += str_cat(", ", fmt("%.2fx", rate / run.prefill_off_rate), " the off prefill");
    }
  }
  return str_cat("| ", m.label, " | ", m.mode_name, " | prefill ", o.prefill_seqs, " x ",
                 o.prompt_len, " | ", fmt("%.0f", rate), " | ", fmt("%.1f", seconds * 1e3), " | ",
                 util, " |\n");
}

// The table rows of the decode workloads.
std::string decode_rows(BenchRun& run, BenchModel& m) {
  const GpuBenchOptions& o = run.o;
  std::string rows;
  for (const int64_t batch_size : o.decode_batches) {
    std::vector<std::vector<int32_t>> tokens(static_cast<size_t>(batch_size),
                                             std::vector<int32_t>(1));
    std::vector<BatchView> batches;
    for (int step = 0; step < run.warmup + o.iters; ++step) {
      for (auto& t : tokens) {
        t[0] = random_token(run, m);
      }
      batches.push_back(make_batch(
          run.decode_layout, tokens,
          std::vector<int32_t>(tokens.size(), static_cast<int32_t>(o.context + step)), true));
    }
    const double seconds = time_steps(run.ctx, run.warmup, o.iters, [&](int step) {
      m.model->forward_device(run.ctx, batches[static_cast<size_t>(step)], m.cache);
    });
    const double kv_len = static_cast<double>(o.context) + run.warmup + o.iters / 2.0;
    const double kv_bytes = static_cast<double>(batch_size) * kv_len * m.counts.kv_bytes_per_token;
    const double weight_bw = m.counts.decode_weight_bytes / seconds / 1e9;
    const double total_bw = (m.counts.decode_weight_bytes + kv_bytes) / seconds / 1e9;
    std::string util = fmt("weights %.0f GB/s", weight_bw);
    if (run.ceilings.copy_gbps > 0) {
      util += str_cat(" = ", fmt("%.1f", 100 * weight_bw / run.ceilings.copy_gbps), "% of copy");
    }
    util += str_cat("; weights+KV ", fmt("%.0f GB/s", total_bw));
    if (run.ceilings.copy_gbps > 0) {
      util += str_cat(" = ", fmt("%.1f", 100 * total_bw / run.ceilings.copy_gbps), "%");
    }
    rows += str_cat("| ", m.label, " | ", m.mode_name, " | decode batch ", batch_size, ", ctx ",
                    o.context, " | ", fmt("%.0f", static_cast<double>(batch_size) / seconds), " | ",
                    fmt("%.2f", seconds * 1e3), " | ", util, " |\n");
  }
  return rows;
}

void run_gpu_bench(const GpuBenchOptions& o) {
  const DType dtype = parse_dtype(o.dtype);
  const std::optional<DType> kv_cache_dtype =
      parse_kv_cache_dtype(o.kv_cache_dtype, EngineDevice::kCuda, dtype);
  const ops::CudaDevice device;
  const ops::Context ctx = device.context();
  std::printf("device: %s\n", device.description().c_str());
  BenchRun run{.o = o, .ctx = ctx};
  // Each ceiling is measured right before the workloads it bounds: the copy before the decode
  // rows, the GEMM before the prefills. A GEMM at full power slows the batch-1 decode steps
  // right after it, as a large prefill does (H200: 3,598-3,603 GB/s of weights after the GEMM
  // and copy against 3,625-3,628 without them, same binary alternated; docs/benchmarks.md).
  if (o.ceilings) {
    run.ceilings.copy_gbps = measure_copy_gbps(ctx);
  }
  const int64_t max_batch = o.decode_batches.empty() ? 1
                                                     : *std::max_element(o.decode_batches.begin(),
                                                                         o.decode_batches.end());
  const int64_t decode_len = o.context + run.warmup + o.iters + 1;
  CudaModelOptions& cuda_options = run.cuda_options;
  cuda_options.max_num_batched_tokens = std::max(o.prefill_seqs * o.prompt_len, max_batch);
  cuda_options.max_num_seqs = std::max<int64_t>(max_batch, o.prefill_seqs);
  cuda_options.max_num_logits = cuda_options.max_num_seqs;
  cuda_options.max_model_len = std::max(o.prompt_len, decode_len);
  cuda_options.cuda_graphs = o.graphs;
  cuda_options.one_token_fusion = o.one_token_fusion;
  cuda_options.dtype = dtype;
  cuda_options.kv_cache_dtype = kv_cache_dtype;
  run.prefill_layout = {.blocks_per_seq = (o.prompt_len + 15) / 16};
  run.decode_layout = {.blocks_per_seq = (decode_len + 15) / 16};
  run.num_blocks = std::max(o.prefill_seqs * run.prefill_layout.blocks_per_seq,
                            max_batch * run.decode_layout.blocks_per_seq);

  // Every mode's decode workloads first, then the prefills: right after a large prefill the GPU
  // runs batch-1 decode steps measurably slower for a while (H200: 4.77-4.98 ms per step over 10
  // steps after 4 x 2048-token prefills, 4.48 ms without; docs/benchmarks.md), an after-effect of
  // the prefill, not a property of decode. Each pass loads the model again (random weights are
  // generated on the GPU in milliseconds).
  std::vector<std::string> decode(o.swiftkv.size());
  std::vector<std::string> prefill(o.swiftkv.size());
  for (size_t i = 0; i < o.swiftkv.size(); ++i) {
    BenchModel m = load_bench_model(run, o.swiftkv[i]);
    decode[i] = decode_rows(run, m);
    std::printf("%s: %lld graphs captured\n", o.swiftkv[i].c_str(),
                static_cast<long long>(m.model->num_graphs()));
  }
  if (o.ceilings) {
    run.ceilings.gemm_tflops = measure_gemm_tflops(ctx);
    std::printf("ceilings: bf16 GEMM 8192^3 %.1f TFLOP/s | device copy %.0f GB/s (read+write)\n",
                run.ceilings.gemm_tflops, run.ceilings.copy_gbps);
  }
  for (size_t i = 0; i < o.swiftkv.size() && o.prefill_seqs > 0; ++i) {
    BenchModel m = load_bench_model(run, o.swiftkv[i]);
    prefill[i] = prefill_row(run, m);
  }
  std::string table =
      "| model | swiftkv | workload | tokens/s | ms/step | utilisation "
      "|\n|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < o.swiftkv.size(); ++i) {
    table += prefill[i] + decode[i];
  }
  std::printf("\n%s", table.c_str());
  std::fflush(stdout);
}

}  // namespace

void register_bench_gpu(CLI::App& bench) {
  auto o = std::make_shared<GpuBenchOptions>();
  CLI::App* cmd = bench.add_subcommand("gpu", "Prefill and decode throughput on the GPU");
  cmd->add_option("--model", o->model, "Model directory or random:<shape>")->capture_default_str();
  cmd->add_option("--swiftkv-layers", o->swiftkv_layers,
                  "random: models only: number of SwiftKV layers (0 = plain Llama)");
  cmd->add_option("--group-size", o->group_size, "random: models only: AcrossKV group size");
  cmd->add_option("--swiftkv", o->swiftkv, "SwiftKV modes to run, in order: off, on, noskip")
      ->delimiter(',')
      ->check(CLI::IsMember({"on", "off", "noskip"}))
      ->capture_default_str();
  cmd->add_option("--prefill-seqs", o->prefill_seqs, "Prompts in the prefill step (0 = skip)")
      ->capture_default_str();
  cmd->add_option("--prompt-len", o->prompt_len, "Tokens per prompt")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--decode-batches", o->decode_batches, "Decode batch sizes")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--context", o->context, "Cached tokens per decoding sequence")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--iters", o->iters, "Timed steps per workload")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("!--no-ceilings", o->ceilings, "Skip the GEMM and copy ceilings");
  cmd->add_flag("!--no-graphs", o->graphs, "Run without CUDA graphs");
  cmd->add_flag("!--no-one-token-fusion", o->one_token_fusion,
                "Batch-1 steps on the unfused ops (cuBLASLt projections, separate norms)");
  cmd->add_option("--dtype", o->dtype,
                  "Weights, activations and KV cache on the GPU: bf16, or f32 (exact f32 GEMMs, "
                  "no TF32; generic attention kernel)")
      ->check(CLI::IsMember({"bf16", "f32"}))
      ->capture_default_str();
  add_kv_cache_dtype_option(*cmd, o->kv_cache_dtype);
  cmd->callback([o] { run_gpu_bench(*o); });
}

}  // namespace swiftkv::cli
