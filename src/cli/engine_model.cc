#include "cli/engine_model.h"

#include "core/error.h"

namespace swiftkv::cli {

void add_device_option(CLI::App& command, std::string& device) {
  command.add_option("--device", device, "Where the model runs: cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
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

EngineModel::EngineModel(const std::string& model, const LoadOptions& load, EngineDevice device,
                         const RuntimeOptions& runtime, const CudaModelOptions& cuda_options)
    : device_(device) {
  if (device == EngineDevice::kCpu) {
    cpu_ = load_model(model, load);
    runtime_ = make_runtime(runtime);
    step_ = std::make_unique<CpuStepModel>(*cpu_, runtime_.ctx);
    return;
  }
  gpu_ = std::make_unique<ops::CudaDevice>();
  cuda_ = load_cuda_model(model, load, gpu_->context(), cuda_options);
  step_ = std::make_unique<CudaStepModel>(*cuda_, gpu_->context());
}

int64_t EngineModel::num_parameters() const {
  return cpu_ != nullptr ? cpu_->num_parameters() : cuda_->num_parameters();
}

const LlamaModel& EngineModel::cpu_model() const {
  SWIFTKV_CHECK(cpu_ != nullptr, "cpu_model() of a CUDA engine model");
  return *cpu_;
}

std::string EngineModel::description() const {
  return gpu_ != nullptr
             ? gpu_->description()
             : str_cat("CPU, ", runtime_.pool ? runtime_.pool->num_threads() : 1, " threads");
}

}  // namespace swiftkv::cli
