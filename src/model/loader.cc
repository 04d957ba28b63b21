#include "model/loader.h"

#include <chrono>
#include <utility>

#include "core/error.h"
#include "core/logging.h"
#include "model/random_model.h"
#include "model/weight_store.h"

namespace swiftkv {
namespace {

constexpr std::string_view kRandomPrefix = "random:";

std::string_view mode_name(SwiftKVMode mode) {
  switch (mode) {
    case SwiftKVMode::kOn:
      return "on";
    case SwiftKVMode::kNoSkip:
      return "noskip";
    case SwiftKVMode::kOff:
      return "off";
  }
  return "?";
}

RandomModelSpec random_spec(const std::string& model, const LoadOptions& options, DType dtype) {
  return RandomModelSpec{.shape = model.substr(kRandomPrefix.size()),
                         .num_swiftkv_layers = options.random_swiftkv_layers,
                         .group_size = options.random_group_size,
                         .dtype = dtype,
                         .seed = options.random_seed};
}

// The one-line summary of a loaded model; `where` is "" or " on the GPU".
template <typename Model>
void log_loaded(const std::string& model, std::string_view where, const Model& loaded,
                SwiftKVMode mode, std::chrono::steady_clock::time_point start) {
  const ModelConfig& c = loaded.config();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log_info("loaded ", model, where, ": ", loaded.num_parameters() / 1e6, "M parameters, ",
           c.num_hidden_layers, " layers, ",
           c.is_swiftkv() ? str_cat("SwiftKV l=", c.num_key_value_layers,
                                    " G=", c.key_value_group_size, " (", mode_name(mode), ")")
                          : std::string("plain Llama"),
           ", ", loaded.num_cache_layers(), " cache layers, in ", seconds, " s");
}

// `options` with max_model_len <= 0 resolved to the model's max_position_embeddings.
CudaModelOptions resolve_cuda_options(CudaModelOptions options, const ModelConfig& config) {
  if (options.max_model_len <= 0) {
    options.max_model_len = config.max_position_embeddings;
  }
  return options;
}

}  // namespace

std::unique_ptr<LlamaModel> load_model(const std::string& model, const LoadOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ModelConfig config;
  ModelWeights weights;
  if (model.starts_with(kRandomPrefix)) {
    const RandomModelSpec spec = random_spec(model, options, options.random_dtype);
    config = random_model_config(spec);
    log_info("generating random weights for ", spec.shape, " (", dtype_name(spec.dtype), ", seed ",
             spec.seed, ")");
    weights = random_model_weights(config, spec.dtype, spec.seed);
  } else {
    config = ModelConfig::load(model);
    weights = ModelWeights::from_store(config, WeightStore::open(model));
  }
  auto result = std::make_unique<LlamaModel>(std::move(config), std::move(weights), options.mode);
  log_loaded(model, "", *result, options.mode, start);
  return result;
}

CudaModelSource::CudaModelSource(std::string model, const LoadOptions& options)
    : model_(std::move(model)), options_(options) {
  if (model_.starts_with(kRandomPrefix)) {
    const RandomModelSpec spec = random_spec(model_, options_, DType::kBF16);
    config_ = random_model_config(spec);
    random_seed_ = spec.seed;
  } else {
    config_ = ModelConfig::load(model_);
    weights_ = ModelWeights::from_store(config_, WeightStore::open(model_));
  }
}

CudaModelSource CudaModelSource::random(ModelConfig config, uint64_t seed, SwiftKVMode mode) {
  CudaModelSource source;
  source.model_ = "a random model";
  source.options_.mode = mode;
  source.random_seed_ = seed;
  source.config_ = std::move(config);
  return source;
}

std::unique_ptr<CudaLlamaModel> CudaModelSource::build(const ops::Context& ctx,
                                                       const CudaModelOptions& cuda_options) const {
  const auto start = std::chrono::steady_clock::now();
  const CudaModelOptions resolved = resolve_cuda_options(cuda_options, config_);
  const std::string where = cuda_options.tensor_parallel == nullptr
                                ? std::string(" on the GPU")
                                : str_cat(" on GPU rank ", cuda_options.tensor_parallel->rank(),
                                          " of ", cuda_options.tensor_parallel->size());
  std::unique_ptr<CudaLlamaModel> result;
  if (random_seed_.has_value()) {
    log_info("generating random weights for ", model_, where, " (", dtype_name(cuda_options.dtype),
             ", seed ", *random_seed_, ")");
    result = CudaLlamaModel::random(ctx, config_, *random_seed_, options_.mode, resolved);
  } else {
    result = CudaLlamaModel::upload(ctx, config_, weights_, options_.mode, resolved);
  }
  log_loaded(model_, where, *result, options_.mode, start);
  return result;
}

std::unique_ptr<CudaLlamaModel> load_cuda_model(const std::string& model,
                                                const LoadOptions& options, const ops::Context& ctx,
                                                const CudaModelOptions& cuda_options) {
  return CudaModelSource(model, options).build(ctx, cuda_options);
}

}  // namespace swiftkv
