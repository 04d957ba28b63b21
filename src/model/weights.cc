// ModelWeights::from_store (contract in weights.h).
//
// Which tensors a checkpoint must hold:
// - always: embed_tokens, per layer the 2 norms and 7 projections, model.norm;
// - lm_head.weight unless tie_word_embeddings (then lm_head is the embedding and a stored
//   lm_head.weight, which some exporters write anyway, is ignored, as transformers does);
// - architecture LlamaSwiftKVForCausalLM (whatever the `swiftkv` wiring flag says, since the
//   checkpoint holds them either way): model.norm_swiftkv.weight (optional when l == L: there
//   are no SwiftKV layers), q_proj_swiftkv for every layer j >= l, k/v_proj_swiftkv for group
//   leaders ((j - l) % G == 0).
// Tensors may mix F32, BF16 and F16; nothing is copied.
#include "model/weights.h"

#include "core/error.h"
#include "model/tensor_names.h"
#include "model/weight_store.h"

namespace swiftkv {

ModelWeights ModelWeights::from_store(const ModelConfig& config, const WeightStore& store) {
  namespace names = tensor_names;
  const auto load = [&](const std::string& name, const Shape& expected) {
    Tensor t = store.get(name);
    if (!is_weight_dtype(t.dtype()) || t.device() != Device::kCpu) {
      throw Error(str_cat("tensor '", name, "' in ", store.source(), " has dtype ",
                          dtype_name(t.dtype()), "; expected F32, BF16 or F16"));
    }
    if (t.shape() != expected) {
      throw Error(str_cat("tensor '", name, "' has shape ", shape_str(t.shape()), ", expected ",
                          shape_str(expected), " (in ", store.source(), ")"));
    }
    return t;
  };
  const int64_t hidden = config.hidden_size;
  const int64_t q_rows = config.num_attention_heads * config.head_dim;
  const int64_t kv_rows = config.num_key_value_heads * config.head_dim;
  const int64_t inter = config.intermediate_size;

  ModelWeights w;
  w.embed_tokens = load(std::string(names::kEmbedTokens), {config.vocab_size, hidden});
  w.norm = load(std::string(names::kNorm), {hidden});
  w.lm_head = config.tie_word_embeddings
                  ? w.embed_tokens
                  : load(std::string(names::kLmHead), {config.vocab_size, hidden});

  const bool swiftkv_arch = config.architecture == Architecture::kLlamaSwiftKV;
  const int64_t first_swiftkv = config.num_key_value_layers;
  const int64_t group = config.key_value_group_size;
  w.layers.resize(static_cast<size_t>(config.num_hidden_layers));
  for (int64_t j = 0; j < config.num_hidden_layers; ++j) {
    LayerWeights& layer = w.layers[static_cast<size_t>(j)];
    const auto name = [j](std::string_view suffix) { return names::layer(j, suffix); };
    layer.input_layernorm = load(name(names::kInputLayernorm), {hidden});
    layer.q_proj = load(name(names::kQProj), {q_rows, hidden});
    layer.k_proj = load(name(names::kKProj), {kv_rows, hidden});
    layer.v_proj = load(name(names::kVProj), {kv_rows, hidden});
    layer.o_proj = load(name(names::kOProj), {hidden, q_rows});
    layer.post_attention_layernorm = load(name(names::kPostAttentionLayernorm), {hidden});
    layer.gate_proj = load(name(names::kGateProj), {inter, hidden});
    layer.up_proj = load(name(names::kUpProj), {inter, hidden});
    layer.down_proj = load(name(names::kDownProj), {hidden, inter});
    if (swiftkv_arch && j >= first_swiftkv) {
      layer.q_proj_swiftkv = load(name(names::kQProjSwiftKV), {q_rows, hidden});
      if ((j - first_swiftkv) % group == 0) {
        layer.k_proj_swiftkv = load(name(names::kKProjSwiftKV), {kv_rows, hidden});
        layer.v_proj_swiftkv = load(name(names::kVProjSwiftKV), {kv_rows, hidden});
      }
    }
  }
  if (swiftkv_arch && (first_swiftkv < config.num_hidden_layers ||
                       store.contains(std::string(names::kNormSwiftKV)))) {
    w.norm_swiftkv = load(std::string(names::kNormSwiftKV), {hidden});
  }
  return w;
}

}  // namespace swiftkv
