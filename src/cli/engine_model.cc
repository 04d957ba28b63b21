#include "cli/engine_model.h"

#include "core/error.h"

namespace swiftkv::cli {

void add_device_option(CLI::App& command, std::string& device) {
  command.add_option("--device", device, "Where the model runs: cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
}

void add_tensor_parallel_option(CLI::App& command, int& tensor_parallel_size) {
  command
      .add_option("--tensor-parallel-size", tensor_parallel_size,
                  "--device cuda: split the model over this many GPUs (0..N-1, NCCL)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

EngineDevice parse_device(const std::string& device) {
  if (device == "cpu") {
    return EngineDevice::kCpu;
  }
  if (device == "cuda") {
    return EngineDevice::kCuda;
  }
  throw Error(str_cat("--device must be cpu or cuda, got '", device, "'"));
}

void add_kv_cache_dtype_option(CLI::App& command, std::string& kv_cache_dtype) {
  command
      .add_option("--kv-cache-dtype", kv_cache_dtype,
                  "--device cuda: KV cache element type: auto (the model's, bf16), bf16, or fp8 "
                  "(e4m3, scale 1.0: half the cache memory and decode K/V traffic)")
      ->check(CLI::IsMember({"auto", "bf16", "fp8"}))
      ->capture_default_str();
}

std::optional<DType> parse_kv_cache_dtype(const std::string& kv_cache_dtype, EngineDevice device,
                                          DType model_dtype) {
  if (kv_cache_dtype == "auto") {
    return std::nullopt;
  }
  if (kv_cache_dtype != "bf16" && kv_cache_dtype != "fp8") {
    throw Error(str_cat("--kv-cache-dtype must be auto, bf16 or fp8, got '", kv_cache_dtype, "'"));
  }
  if (device == EngineDevice::kCpu) {
    throw Error(str_cat("--kv-cache-dtype ", kv_cache_dtype,
                        " needs --device cuda: the CPU engine keeps its KV cache in f32 (use "
                        "--kv-cache-dtype auto)"));
  }
  if (model_dtype != DType::kBF16) {
    throw Error(str_cat("--kv-cache-dtype ", kv_cache_dtype, " needs the bf16 CUDA model; the ",
                        dtype_name(model_dtype), " model keeps its KV cache in ",
                        dtype_name(model_dtype), " (use --kv-cache-dtype auto)"));
  }
  return kv_cache_dtype == "fp8" ? DType::kF8E4M3 : DType::kBF16;
}

EngineModel::EngineModel(const std::string& model, const LoadOptions& load, EngineDevice device,
                         const RuntimeOptions& runtime, const CudaModelOptions& cuda_options,
                         int tensor_parallel_size)
    : device_(device) {
  if (device == EngineDevice::kCpu) {
    if (tensor_parallel_size != 1) {
      throw Error("--tensor-parallel-size needs --device cuda");
    }
    cpu_ = load_model(model, load);
    runtime_ = make_runtime(runtime);
    step_ = std::make_unique<CpuStepModel>(*cpu_, runtime_.ctx);
    active_ = step_.get();
    return;
  }
  if (tensor_parallel_size > 1) {
    const CudaModelSource source(model, load);
    tensor_parallel_ = TensorParallelStepModel::on_gpus(source, tensor_parallel_size, cuda_options);
    active_ = tensor_parallel_.get();
    return;
  }
  gpu_ = std::make_unique<ops::CudaDevice>();
  cuda_ = load_cuda_model(model, load, gpu_->context(), cuda_options);
  step_ = std::make_unique<CudaStepModel>(*cuda_, gpu_->context());
  active_ = step_.get();
}

int64_t EngineModel::num_parameters() const {
  if (tensor_parallel_ != nullptr) {
    return tensor_parallel_->rank_model(0).num_parameters();
  }
  return cpu_ != nullptr ? cpu_->num_parameters() : cuda_->num_parameters();
}

const LlamaModel& EngineModel::cpu_model() const {
  SWIFTKV_CHECK(cpu_ != nullptr, "cpu_model() of a CUDA engine model");
  return *cpu_;
}

std::string EngineModel::description() const {
  if (tensor_parallel_ != nullptr) {
    return tensor_parallel_->description();
  }
  return gpu_ != nullptr
             ? gpu_->description()
             : str_cat("CPU, ", runtime_.pool ? runtime_.pool->num_threads() : 1, " threads");
}

}  // namespace swiftkv::cli
