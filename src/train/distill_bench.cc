#include "train/distill_bench.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/logging.h"
#include "model/random_model.h"
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

// Random tokens, one document per row (positions 0..seq-1), every position in the loss.
TorchBatch random_batch(int64_t rows, int64_t seq, int64_t vocab, const torch::Device& device,
                        torch::Tensor* loss_mask, torch::Tensor* valid) {
  const auto ints = torch::TensorOptions().dtype(torch::kInt64).device(device);
  TorchBatch batch{torch::randint(vocab, {rows, seq}, ints),
                   torch::arange(seq, ints).unsqueeze(0).expand({rows, seq}).contiguous(),
                   torch::zeros({rows, seq}, ints)};
  *loss_mask = torch::ones({rows, seq}, ints);
  *valid = batch.segments >= 0;
  return batch;
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
  if (options.threads > 0) {
    torch::set_num_threads(options.threads);
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

  DistillBenchResult result;
  const TorchLlamaOptions model_options = make_torch_llama_options(
      options.device, options.precision, options.checkpointing, &result.precision);
  const torch::Device device = model_options.device;
  result.model = options.model;
  result.device = options.device;
  result.checkpointing = model_options.checkpoint_later_layers;
  result.num_layers = config.num_hidden_layers;
  result.num_kv_layers = config.num_key_value_layers;
  result.group_size = config.key_value_group_size;
  result.seq_len = options.seq_len;
  result.batch_size = options.batch_size;

  const auto setup_start = std::chrono::steady_clock::now();
  const std::unique_ptr<TorchLlama> model = TorchLlama::random(config, options.seed, model_options);
  for (const torch::Tensor& p : model->trainable_parameters()) {
    result.trainable_parameters += p.numel();
  }
  for (const torch::Tensor& p : model->frozen_parameters()) {
    result.frozen_parameters += p.numel();
  }
  const std::unique_ptr<torch::optim::AdamW> optimizer =
      make_adamw(*model, options.learning_rate, /*weight_decay=*/0.0);
  const DistillLossOptions loss_options;  // T = 2, KL weight 1, hidden-MSE weight 1
  const auto sync = [&] {
    if (device.is_cuda()) {
      torch::cuda::synchronize(device.has_index() ? device.index() : -1);
    }
  };
  sync();
  result.setup_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
  log_info("bench distill: ", options.model, ", l = ", config.num_key_value_layers, " of ",
           config.num_hidden_layers, " layers, G = ", config.key_value_group_size, ", ",
           result.trainable_parameters, " trainable / ", result.frozen_parameters,
           " frozen parameters on ", options.device, " (", result.precision, ", checkpointing ",
           result.checkpointing ? "on" : "off", "), set up in ", result.setup_seconds, " s");

  const int64_t tokens_per_step = options.batch_size * options.seq_len;
  for (int64_t step = 0; step < options.warmup + options.steps; ++step) {
    torch::Tensor mask, valid;
    const TorchBatch batch =
        random_batch(options.batch_size, options.seq_len, config.vocab_size, device, &mask, &valid);
    sync();
    const auto start = std::chrono::steady_clock::now();
    set_learning_rate(*optimizer, options.learning_rate);
    const DistillStepResult r = distill_step(*model, batch, mask, valid, loss_options,
                                             /*max_grad_norm=*/1.0, *optimizer);
    sync();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.losses.push_back(r.loss);
    if (!std::isfinite(r.loss)) {
      throw Error(str_cat("bench distill: non-finite loss ", r.loss, " at step ", step));
    }
    const bool timed = step >= options.warmup;
    if (timed) {
      result.step_seconds.push_back(seconds);
    }
    log_info("step ", step + 1, "/", options.warmup + options.steps, timed ? "" : " (warm-up)",
             ": ", seconds, " s, ", static_cast<double>(tokens_per_step) / seconds,
             " tokens/s, loss ", r.loss);
  }
  result.median_step_seconds = median(result.step_seconds);
  result.median_tokens_per_second =
      static_cast<double>(tokens_per_step) / std::max(result.median_step_seconds, 1e-12);
  result.peak_rss_bytes = peak_rss_bytes();
#ifdef SWIFTKV_TORCH_CUDA
  if (device.is_cuda()) {
    const auto index = static_cast<c10::DeviceIndex>(device.has_index() ? device.index() : 0);
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
    result.peak_allocated_bytes = stats.allocated_bytes[0].peak;  // [0]: StatType::AGGREGATE
    result.peak_reserved_bytes = stats.reserved_bytes[0].peak;
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    if (cudaSetDevice(index) == cudaSuccess &&
        cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      result.device_total_bytes = static_cast<int64_t>(total_bytes);
    }
  }
#endif
  return result;
}

std::string DistillBenchResult::summary() const {
  std::string memory;
  if (peak_allocated_bytes >= 0) {
    memory = str_cat("peak device memory ", gib(peak_allocated_bytes), " allocated, ",
                     gib(peak_reserved_bytes), " reserved",
                     device_total_bytes > 0 ? str_cat(" of ", gib(device_total_bytes)) : "");
  } else {
    memory = str_cat("peak host RSS ", gib(peak_rss_bytes));
  }
  char pace[160];
  std::snprintf(pace, sizeof(pace),
                "%.0f tokens/s (median of %zu steps, %.3f s/step), %.2fx the published "
                "%.0f tokens/s per GPU",
                median_tokens_per_second, step_seconds.size(), median_step_seconds,
                median_tokens_per_second / reference_tokens_per_second,
                reference_tokens_per_second);
  return str_cat("bench distill: ", model, ", l = ", num_kv_layers, " of ", num_layers, " layers (",
                 num_layers - num_kv_layers, " SwiftKV), G = ", group_size, ", ", batch_size, " x ",
                 seq_len, " tokens/step, ", device, " ", precision, ", checkpointing ",
                 checkpointing ? "on" : "off", ": ", pace, "; ", memory);
}

std::string DistillBenchResult::to_json() const {
  const auto or_null = [](int64_t v) { return v >= 0 ? nlohmann::json(v) : nlohmann::json(); };
  const nlohmann::json json = {
      {"model", model},
      {"device", device},
      {"precision", precision},
      {"gradient_checkpointing", checkpointing},
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
      {"reference_tokens_per_second_per_gpu", reference_tokens_per_second},
      {"ratio_to_reference", median_tokens_per_second / reference_tokens_per_second},
      {"losses", losses},
      {"peak_allocated_bytes", or_null(peak_allocated_bytes)},
      {"peak_reserved_bytes", or_null(peak_reserved_bytes)},
      {"device_total_bytes", or_null(device_total_bytes)},
      {"peak_rss_bytes", or_null(peak_rss_bytes)}};
  return json.dump(2);
}

}  // namespace swiftkv
