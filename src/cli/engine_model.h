// The model a serving command (`serve`, `bench throughput`) runs, on the device --device names,
// behind the engine's StepModel interface: a LlamaModel with its thread pool on the CPU, or a
// CudaLlamaModel with its CUDA device on the GPU (`random:` shapes generated on the device).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "cli/runtime_options.h"
#include "engine/step_model.h"
#include "engine/tensor_parallel_step_model.h"
#include "model/llama_model.h"
#include "model/llama_model_cuda.h"
#include "model/loader.h"
#include "ops/device.h"

namespace swiftkv::cli {

enum class EngineDevice { kCpu, kCuda };

// Adds --device cpu|cuda.
void add_device_option(CLI::App& command, std::string& device);
// Adds --tensor-parallel-size N (GPUs 0..N-1, NCCL).
void add_tensor_parallel_option(CLI::App& command, int& tensor_parallel_size);
EngineDevice parse_device(const std::string& device);

// Owns the model and what it runs on; destroy engines that use step() first.
class EngineModel {
 public:
  // Loads `model` (a directory or random:<shape>). On kCpu, `runtime` gives threads and op
  // backend; on kCuda, `cuda_options` sizes the activation buffers and graphs (they must cover
  // the engine's max_num_batched_tokens, max_num_seqs and max_model_len);
  // tensor_parallel_size > 1 splits the model over GPUs 0..N-1 (TensorParallelStepModel).
  EngineModel(const std::string& model, const LoadOptions& load, EngineDevice device,
              const RuntimeOptions& runtime, const CudaModelOptions& cuda_options,
              int tensor_parallel_size = 1);
  EngineModel(const EngineModel&) = delete;
  EngineModel& operator=(const EngineModel&) = delete;

  EngineDevice device() const { return device_; }
  StepModel& step() { return *active_; }
  const ModelConfig& config() const { return active_->config(); }
  int64_t num_parameters() const;
  // Bytes of K and V of one token over all cache layers (bf16 on CUDA, f32 on CPU).
  // (one rank's shard under tensor parallelism: every GPU holds that much per token).
  int64_t bytes_per_token() const { return active_->cache_shape(1, 16).bytes_per_token(); }
  // The CPU model (kCpu only), for byte-budget planning (engine/capacity.h).
  const LlamaModel& cpu_model() const;
  // "NVIDIA H200, 132 SMs, 139.8 GiB" or "CPU, N threads".
  std::string description() const;

 private:
  EngineDevice device_;
  Runtime runtime_;                                           // kCpu
  std::unique_ptr<LlamaModel> cpu_;                           // kCpu
  std::unique_ptr<ops::CudaDevice> gpu_;                      // kCuda
  std::unique_ptr<CudaLlamaModel> cuda_;                      // kCuda, one GPU
  std::unique_ptr<TensorParallelStepModel> tensor_parallel_;  // kCuda, several GPUs
  std::unique_ptr<StepModel> step_;                           // over cpu_ or cuda_
  StepModel* active_ = nullptr;                               // step_ or tensor_parallel_
};

}  // namespace swiftkv::cli
