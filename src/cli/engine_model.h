// The model a serving command (`serve`, `bench throughput`) runs, on the device --device names,
// behind the engine's StepModel interface: a LlamaModel with its thread pool on the CPU, or a
// CudaLlamaModel with its CUDA device on the GPU (`random:` shapes generated on the device).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <optional>
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

// Adds --kv-cache-dtype auto|bf16|fp8 (the CUDA KV cache; vLLM's flag of the same name).
void add_kv_cache_dtype_option(CLI::App& command, std::string& kv_cache_dtype);
// CudaModelOptions::kv_cache_dtype for --kv-cache-dtype on `device` with a CUDA model of
// `model_dtype`: nullopt for auto (the model's dtype), kBF16, or kF8E4M3. Throws Error naming
// the flag when the choice does not fit: anything but auto on the CPU (whose cache is f32), or
// anything but auto with the f32 CUDA model. Check before loading anything.
std::optional<DType> parse_kv_cache_dtype(const std::string& kv_cache_dtype, EngineDevice device,
                                          DType model_dtype);

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
  // Bytes of K and V of one token over all cache layers (CUDA: bf16 or fp8_e4m3; CPU: f32; one
  // rank's shard under tensor parallelism: every GPU holds that much per token).
  int64_t bytes_per_token() const { return active_->cache_shape(1, 16).bytes_per_token(); }
  DType kv_cache_dtype() const { return active_->cache_shape(1, 16).dtype; }
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
