// `swiftkv bench distill`: distillation training throughput on a random-weight model of a named
// shape (random_model.h), so the GPU pace of issue 5 (llama-3.1-8b, 16 SwiftKV layers, 4096-token
// sequences) can be measured without a checkpoint. The weights are drawn on the device by
// torch's seeded generator (TorchLlama::random), the data are uniform random tokens, one
// document per row, every position in the loss, and each step is distill.h's step
// (distill_step.h): frozen weights in bf16 and f32 SwiftKV parameters on CUDA, gradient
// checkpointing of layers >= l, AdamW with clipping. Reports the median tokens/s over the
// timed steps (after warm-up), step times, peak device memory (the CUDA caching allocator's
// peak allocated and reserved bytes; peak RSS on CPU) and the ratio to the published pace of
// 680M tokens in 3 hours on 8 H100 (~7,870 tokens/s per GPU). With `nproc` N the step is the
// data-parallel one of `swiftkv distill --nproc N` (data_parallel.h: rank r on cuda:r through
// NCCL, or on the CPU through gloo; N = 1 goes through a one-rank process group too), each rank
// on its own random tokens, `batch_size` the global batch; it reports the total and per-rank
// tokens/s and each device's peak memory. This header is free of libtorch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace swiftkv {

// ArcticTraining's Llama-3.1-8B SwiftKV distillation: 680M tokens in 3 h on 8 H100.
inline constexpr double kReferenceTokensPerSecondPerGpu = 680e6 / (3.0 * 3600.0) / 8.0;

struct DistillBenchOptions {
  std::string model = "random:llama-3.1-8b";  // random:<shape>
  int64_t swiftkv_layers = 16;                // L - l
  int64_t group_size = 1;                     // G
  int64_t seq_len = 4096;
  int64_t batch_size = 1;  // global: batch_size / nproc rows per rank
  int nproc = 1;           // data-parallel ranks
  int64_t steps = 10;      // timed steps
  int64_t warmup = 2;      // untimed steps first
  std::string device = "cuda";
  std::string precision = "auto";      // auto (bf16 on CUDA, f32 on CPU) | f32 | bf16 | f64
  std::string checkpointing = "auto";  // auto (on for CUDA) | on | off
  std::string attention = "fused";     // fused (on CUDA with libtorch >= 2) | eager
  double learning_rate = 2e-4;
  uint64_t seed = 0;
  int threads = 0;  // CPU threads for libtorch; 0 = its default
};

struct DistillBenchRank {
  std::string device;
  double median_step_seconds = 0.0;
  double tokens_per_second = 0.0;     // this rank's tokens per step / its median step time
  int64_t peak_allocated_bytes = -1;  // CUDA caching allocator of this rank's device
  int64_t peak_reserved_bytes = -1;
  int64_t device_total_bytes = -1;
};

struct DistillBenchResult {
  std::string model;
  std::string device;
  std::string precision;
  bool checkpointing = false;
  std::string attention;  // what ran: fused or eager
  int64_t num_layers = 0;
  int64_t num_kv_layers = 0;  // l
  int64_t group_size = 1;
  int64_t seq_len = 0;
  int64_t batch_size = 0;  // global
  int nproc = 1;
  std::string backend;  // the process group: nccl, gloo or none
  int64_t trainable_parameters = 0;
  int64_t frozen_parameters = 0;
  double setup_seconds = 0.0;             // weight generation and first allocation
  std::vector<double> step_seconds;       // timed steps
  double median_step_seconds = 0.0;       // rank 0's
  double median_tokens_per_second = 0.0;  // total: global tokens per step / median step time
  double reference_tokens_per_second = kReferenceTokensPerSecondPerGpu;
  std::vector<double> losses;  // every step, warm-up included (global batch)
  std::vector<DistillBenchRank> ranks;
  int64_t peak_allocated_bytes = -1;  // the largest over the ranks' devices; -1 = not available
  int64_t peak_reserved_bytes = -1;
  int64_t device_total_bytes = -1;
  int64_t peak_rss_bytes = -1;  // the process (host memory)

  std::string summary() const;  // one line
  std::string to_json() const;  // one JSON object (pretty-printed)
};

// Throws Error for bad options (unknown shape, --steps < 1, no CUDA device, ...).
DistillBenchResult run_distill_bench(const DistillBenchOptions& options);

}  // namespace swiftkv
