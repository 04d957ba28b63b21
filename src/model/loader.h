// Opening a model for inference: a Hugging Face checkpoint directory or `random:<shape>`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "model/llama_model.h"
#include "model/llama_model_cuda.h"
#include "ops/context.h"

namespace swiftkv {

struct LoadOptions {
  SwiftKVMode mode = SwiftKVMode::kOn;
  // For `random:<shape>` only.
  int64_t random_swiftkv_layers = 0;
  int64_t random_group_size = 1;
  DType random_dtype = DType::kBF16;
  uint64_t random_seed = 0;
};

// `model` is a checkpoint directory (config.json + safetensors) or `random:<shape>`. Logs what
// it loads; throws Error naming the problem (missing file, bad config, missing tensor, ...).
std::unique_ptr<LlamaModel> load_model(const std::string& model, const LoadOptions& options);

// The same on CUDA (ctx: kCuda): a checkpoint is read on the host and uploaded once (bf16);
// `random:<shape>` weights are generated on the device (CudaLlamaModel::random), so benchmarks
// of 8B-class shapes need no host copy. cuda_options.max_model_len <= 0 means the model's
// max_position_embeddings.
std::unique_ptr<CudaLlamaModel> load_cuda_model(const std::string& model,
                                                const LoadOptions& options, const ops::Context& ctx,
                                                const CudaModelOptions& cuda_options = {});

// A model opened once and built on several devices (tensor parallelism): the constructor reads
// the config and, for a checkpoint, the host weights; build() makes one device model from them
// (a rank when cuda_options.tensor_parallel is set). build() only reads this object, so the ranks
// may build concurrently, one thread each.
class CudaModelSource {
 public:
  CudaModelSource(std::string model, const LoadOptions& options);
  // Random weights of `config` generated on each device from `seed` (as `random:` shapes).
  static CudaModelSource random(ModelConfig config, uint64_t seed, SwiftKVMode mode);
  const ModelConfig& config() const { return config_; }
  std::unique_ptr<CudaLlamaModel> build(const ops::Context& ctx,
                                        const CudaModelOptions& cuda_options) const;

 private:
  CudaModelSource() = default;

  std::string model_;
  LoadOptions options_;
  std::optional<uint64_t> random_seed_;  // random weights
  ModelConfig config_;
  ModelWeights weights_;  // a checkpoint's, on the host
};

}  // namespace swiftkv
