#include "train/distill_bench.h"

#include <ATen/CPUGeneratorImpl.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/logging.h"
#include "model/random_model.h"
#include "train/data_parallel.h"
#include "train/distill_step.h"
#include "train/torch_llama.h"

#ifdef SWIFTKV_TORCH_CUDA  // a CUDA libtorch (src/train/CMakeLists.txt)
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

namespace swiftkv {
namespace {

constexpr const char* kRandomPrefix = "random:";

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux: KiB
}

std::string gib(int64_t bytes) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f GiB", static_cast<double>(bytes) / (1 << 30));
  return buffer;
}

// Random tokens from `generator` (host), one document per row (positions 0..seq-1), every
// position in the loss.
TorchBatch random_batch(int64_t rows, int64_t seq, int64_t vocab, at::Generator& generator,
                        const torch::Device& device, torch::Tensor* loss_mask,
                        torch::Tensor* valid) {
  const auto ints = torch::TensorOptions().dtype(torch::kInt64).device(device);
  TorchBatch batch{torch::randint(vocab, {rows, seq}, generator, torch::kInt64).to(device),
                   torch::arange(seq, ints).unsqueeze(0).expand({rows, seq}).contiguous(),
                   torch::zeros({rows, seq}, ints)};
  *loss_mask = torch::ones({rows, seq}, ints);
  *valid = batch.segments >= 0;
  return batch;
}

// Peak memory of a CUDA device (the caching allocator's) into `stats`; nothing on CPU.
void read_device_memory([[maybe_unused]] const torch::Device& device,
                        [[maybe_unused]] DistillBenchRank* stats) {
#ifdef SWIFTKV_TORCH_CUDA
  if (device.is_cuda()) {
    const auto index = static_cast<c10::DeviceIndex>(device.has_index() ? device.index() : 0);
    const auto memory = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    stats->peak_allocated_bytes = memory.allocated_bytes[0].peak;  // [0]: StatType::AGGREGATE
    stats->peak_reserved_bytes = memory.reserved_bytes[0].peak;
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    if (cudaSetDevice(index) == cudaSuccess &&
        cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      stats->device_total_bytes = static_cast<int64_t>(total_bytes);
    }
  }
#endif
}

}  // namespace

DistillBenchResult run_distill_bench(const DistillBenchOptions& options) {
  if (options.model.rfind(kRandomPrefix, 0) != 0) {
    throw Error(str_cat("--model: expected random:<shape> (", "shapes: llama-100m, llama-3.2-1b, ",
                        "llama-3.1-8b, llama-3.1-70b), got '", options.model, "'"));
  }
  if (options.steps < 1 || options.warmup < 0 || options.seq_len < 2 || options.batch_size < 1) {
    throw Error("--steps must be >= 1, --warmup >= 0, --seq-len >= 2 and --batch-size >= 1");
  }
  const DataParallelOptions parallel{options.nproc, options.device, options.threads};
  check_data_parallel(parallel);
  if (options.batch_size % options.nproc != 0) {
    throw Error(str_cat("--batch-size ", options.batch_size, " is the global batch: it must be a ",
                        "multiple of --nproc ", options.nproc));
  }
  RandomModelSpec spec;
  spec.shape = options.model.substr(std::string(kRandomPrefix).size());
  spec.num_swiftkv_layers = options.swiftkv_layers;
  spec.group_size = options.group_size;
  if (options.swiftkv_layers < 1) {
    throw Error("--swiftkv-layers must be >= 1");
  }
  const ModelConfig config = random_model_config(spec);  // validates the shape, l and G
  if (options.seq_len > config.max_position_embeddings) {
    throw Error(str_cat("--seq-len ", options.seq_len, " exceeds the shape's ",
                        config.max_position_embeddings, " positions"));
  }

  if (options.attention != "fused" && options.attention != "eager") {
    throw Error(str_cat("--attention must be fused or eager, not '", options.attention, "'"));
  }
  DistillBenchResult result;
  make_torch_llama_options(rank_device(options.device, 0).str(), options.precision,
                           options.checkpointing, &result.precision);  // fails early
  result.model = options.model;
  result.device = options.device;
  result.num_layers = config.num_hidden_layers;
  result.num_kv_layers = config.num_key_value_layers;
  result.group_size = config.key_value_group_size;
  result.seq_len = options.seq_len;
  result.batch_size = options.batch_size;
  result.nproc = options.nproc;
  result.ranks.resize(static_cast<size_t>(options.nproc));
  const int64_t rank_rows = options.batch_size / options.nproc;
  const int64_t tokens_per_step = options.batch_size * options.seq_len;  // global

  // Each rank writes only result.ranks[its rank]; rank 0 also the rest of `result`.
  run_data_parallel(parallel, [&](DataParallelRank& rank) {
    const bool main = rank.is_main();
    const torch::Device device = rank.device();
    TorchLlamaOptions model_options =
        make_torch_llama_options(device.str(), options.precision, options.checkpointing);
    model_options.fused_attention = options.attention == "fused";
    const auto setup_start = std::chrono::steady_clock::now();
    const std::unique_ptr<TorchLlama> model =
        TorchLlama::random(config, options.seed, model_options);
    const std::unique_ptr<torch::optim::AdamW> optimizer =
        make_adamw(*model, options.learning_rate, /*weight_decay=*/0.0);
    broadcast_trainable_parameters(*model, rank);
    const DistillLossOptions loss_options;  // T = 2, KL weight 1, hidden-MSE weight 1
    const auto sync = [&] {
      if (device.is_cuda()) {
        torch::cuda::synchronize(device.index());
      }
    };
    sync();
    at::Generator tokens = at::detail::createCPUGenerator(options.seed * 1000 + 1 + rank.rank());
    if (main) {
      result.checkpointing = model_options.checkpoint_later_layers;
      result.attention = model->uses_fused_attention() ? "fused" : "eager";
      result.backend = rank.backend();
      for (const torch::Tensor& p : model->trainable_parameters()) {
        result.trainable_parameters += p.numel();
      }
      for (const torch::Tensor& p : model->frozen_parameters()) {
        result.frozen_parameters += p.numel();
      }
      result.setup_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
      log_info("bench distill: ", options.model, ", l = ", config.num_key_value_layers, " of ",
               config.num_hidden_layers, " layers, G = ", config.key_value_group_size, ", ",
               result.trainable_parameters, " trainable / ", result.frozen_parameters,
               " frozen parameters on ", options.device, " x ", rank.num_ranks(), " (",
               result.backend, ", ", result.precision, ", checkpointing ",
               result.checkpointing ? "on" : "off", ", ", result.attention,
               " attention), set up in ", result.setup_seconds, " s");
    }
    std::vector<double> step_seconds;
    for (int64_t step = 0; step < options.warmup + options.steps; ++step) {
      torch::Tensor mask, valid;
      const TorchBatch batch = random_batch(rank_rows, options.seq_len, config.vocab_size, tokens,
                                            device, &mask, &valid);
      sync();
      const auto start = std::chrono::steady_clock::now();
      set_learning_rate(*optimizer, options.learning_rate);
      const DistillStepResult r = distill_step(*model, batch, mask, valid, loss_options,
                                               /*max_grad_norm=*/1.0, *optimizer, &rank);
      sync();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!std::isfinite(r.loss)) {
        throw Error(str_cat("bench distill: non-finite loss ", r.loss, " at step ", step));
      }
      const bool timed = step >= options.warmup;
      if (timed) {
        step_seconds.push_back(seconds);
      }
      if (main) {
        result.losses.push_back(r.loss);
        log_info("step ", step + 1, "/", options.warmup + options.steps, timed ? "" : " (warm-up)",
                 ": ", seconds, " s, ", static_cast<double>(tokens_per_step) / seconds,
                 " tokens/s, loss ", r.loss);
      }
    }
    DistillBenchRank& stats = result.ranks[static_cast<size_t>(rank.rank())];
    stats.device = device.str();
    stats.median_step_seconds = median(step_seconds);
    stats.tokens_per_second = static_cast<double>(rank_rows * options.seq_len) /
                              std::max(stats.median_step_seconds, 1e-12);
    read_device_memory(device, &stats);
    if (main) {
      result.step_seconds = step_seconds;
    }
  });
  result.median_step_seconds = median(result.step_seconds);
  result.median_tokens_per_second =
      static_cast<double>(tokens_per_step) / std::max(result.median_step_seconds, 1e-12);
  result.peak_rss_bytes = peak_rss_bytes();
  for (const DistillBenchRank& r : result.ranks) {
    result.peak_allocated_bytes = std::max(result.peak_allocated_bytes, r.peak_allocated_bytes);
    result.peak_reserved_bytes = std::max(result.peak_reserved_bytes, r.peak_reserved_bytes);
    result.device_total_bytes = std::max(result.device_total_bytes, r.device_total_bytes);
  }
  return result;
}

std::string DistillBenchResult::summary() const {
  std::string memory;
  if (peak_allocated_bytes >= 0) {
    memory = str_cat("peak device memory ", gib(peak_allocated_bytes), " allocated, ",
                     gib(peak_reserved_bytes), " reserved",
                     device_total_bytes > 0 ? str_cat(" of ", gib(device_total_bytes)) : "",
                     nproc > 1 ? " (largest rank)" : "");
  } else {
    memory = str_cat("peak host RSS ", gib(peak_rss_bytes));
  }
  const double per_gpu = median_tokens_per_second / nproc;
  char pace[200];
  std::snprintf(pace, sizeof(pace),
                "%.0f tokens/s (%.0f per rank; median of %zu steps, %.3f s/step), %.2fx the "
                "published %.0f tokens/s per GPU",
                median_tokens_per_second, per_gpu, step_seconds.size(), median_step_seconds,
                per_gpu / reference_tokens_per_second, reference_tokens_per_second);
  return str_cat("bench distill: ", model, ", l = ", num_kv_layers, " of ", num_layers, " layers (",
                 num_layers - num_kv_layers, " SwiftKV), G = ", group_size, ", ", batch_size, " x ",
                 seq_len, " tokens/step, ", device, " x ", nproc, " (", backend, ") ", precision,
                 ", checkpointing ", checkpointing ? "on" : "off", ", ", attention,
                 " attention: ", pace, "; ", memory);
}

std::string DistillBenchResult::to_json() const {
  const auto or_null = [](int64_t v) { return v >= 0 ? nlohmann::json(v) : nlohmann::json(); };
  nlohmann::json rank_json = nlohmann::json::array();
  for (size_t i = 0; i < ranks.size(); ++i) {
    const DistillBenchRank& r = ranks[i];
    rank_json.push_back({{"rank", i},
                         {"device", r.device},
                         {"median_step_seconds", r.median_step_seconds},
                         {"tokens_per_second", r.tokens_per_second},
                         {"peak_allocated_bytes", or_null(r.peak_allocated_bytes)},
                         {"peak_reserved_bytes", or_null(r.peak_reserved_bytes)},
                         {"device_total_bytes", or_null(r.device_total_bytes)}});
  }
  const double per_gpu = median_tokens_per_second / nproc;
  const nlohmann::json json = {{"model", model},
                               {"device", device},
                               {"nproc", nproc},
                               {"backend", backend},
                               {"precision", precision},
                               {"gradient_checkpointing", checkpointing},
                               {"attention", attention},
                               {"num_hidden_layers", num_layers},
                               {"num_key_value_layers", num_kv_layers},
                               {"swiftkv_layers", num_layers - num_kv_layers},
                               {"key_value_group_size", group_size},
                               {"seq_len", seq_len},
                               {"batch_size", batch_size},
                               {"tokens_per_step", seq_len * batch_size},
                               {"trainable_parameters", trainable_parameters},
                               {"frozen_parameters", frozen_parameters},
                               {"setup_seconds", setup_seconds},
                               {"step_seconds", step_seconds},
                               {"median_step_seconds", median_step_seconds},
                               {"tokens_per_second", median_tokens_per_second},
                               {"tokens_per_second_per_rank", per_gpu},
                               {"reference_tokens_per_second_per_gpu", reference_tokens_per_second},
                               {"ratio_to_reference", per_gpu / reference_tokens_per_second},
                               {"losses", losses},
                               {"ranks", rank_json},
                               {"peak_allocated_bytes", or_null(peak_allocated_bytes)},
                               {"peak_reserved_bytes", or_null(peak_reserved_bytes)},
                               {"device_total_bytes", or_null(device_total_bytes)},
                               {"peak_rss_bytes", or_null(peak_rss_bytes)}};
  return json.dump(2);
}

}  // namespace swiftkv
