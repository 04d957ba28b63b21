// Opening a model for inference: a Hugging Face checkpoint directory or `random:<shape>`.
#pragma once

#include <cstdint>
#include <memory>
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

}  // namespace swiftkv
