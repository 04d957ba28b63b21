#include "train/torch_llama.h"

#include <torch/version.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>

#include "core/error.h"
#include "model/rope_frequencies.h"
#include "model/tensor_names.h"

namespace swiftkv {
namespace {

namespace names = tensor_names;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Gradient checkpointing of one SwiftKV layer: forward keeps only the layer's inputs, backward
// recomputes the layer with autograd on and differentiates it (torch.utils.checkpoint's
// non-reentrant idea; libtorch C++ has no checkpoint utility). The model is passed as an
// address because AutogradContext can only store IValues; it outlives every backward pass of
// the step that built the graph.
struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& q_weight, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& mask,
                               const torch::Tensor& cos, const torch::Tensor& sin,
                               const TorchLlama* model, int64_t layer) {
    ctx->save_for_backward({hidden, q_weight, k, v, mask, cos, sin});
    ctx->saved_data["model"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(model));
    ctx->saved_data["layer"] = layer;
    return model->layer_forward(layer, hidden, q_weight, k, v, mask, cos, sin);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const auto* model = reinterpret_cast<const TorchLlama*>(
        static_cast<intptr_t>(ctx->saved_data["model"].toInt()));
    const int64_t layer = ctx->saved_data["layer"].toInt();
    variable_list inputs;
    for (int i = 0; i < 4; ++i) {
      inputs.push_back(saved[i].detach().requires_grad_(saved[i].requires_grad()));
    }
    variable_list wrt;
    std::vector<int> wrt_index;
    for (int i = 0; i < 4; ++i) {
      if (inputs[i].requires_grad()) {
        wrt.push_back(inputs[i]);
        wrt_index.push_back(i);
      }
    }
    variable_list grads(9);
    if (wrt.empty()) {
      return grads;
    }
    torch::Tensor output;
    {
      const torch::AutoGradMode enable_grad(true);
      output = model->layer_forward(layer, inputs[0], inputs[1], inputs[2], inputs[3], saved[4],
                                    saved[5], saved[6]);
    }
    const variable_list computed = torch::autograd::grad({output}, wrt, {grad_outputs[0]},
                                                         /*retain_graph=*/false,
                                                         /*create_graph=*/false,
                                                         /*allow_unused=*/true);
    for (size_t i = 0; i < wrt.size(); ++i) {
      grads[wrt_index[i]] = computed[i];
    }
    return grads;
  }
};

}  // namespace

torch::Tensor to_torch(const Tensor& tensor) {
  const Tensor f32 = tensor.to_f32();
  return torch::from_blob(f32.raw(), f32.shape(), torch::kFloat32).clone();
}

Tensor from_torch(const torch::Tensor& tensor, DType dtype) {
  const torch::Tensor host = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  Tensor out = Tensor::empty(host.sizes().vec(), DType::kF32);
  std::memcpy(out.raw(), host.data_ptr<float>(), out.nbytes());
  return dtype == DType::kF32 ? out : out.to_dtype(dtype);
}

TorchLlama::TorchLlama(const ModelConfig& config, TorchLlamaOptions options)
    : config_(config), options_(options) {
  SWIFTKV_CHECK(config_.architecture == Architecture::kLlamaSwiftKV,
                "TorchLlama needs a SwiftKV config");
  const RopeFrequencies rope = rope_frequencies(config_);
  inv_freq_ = torch::tensor(rope.inv_freq, torch::kFloat32).to(options_.device);
  attention_scaling_ = rope.attention_scaling;
}

TorchLlama::TorchLlama(const ModelConfig& config, const ModelWeights& base,
                       const NamedTensors& swiftkv, TorchLlamaOptions options)
    : TorchLlama(config, options) {
  embed_tokens_ = frozen(base.embed_tokens);
  norm_ = frozen(base.norm);
  lm_head_ = config_.tie_word_embeddings ? embed_tokens_ : frozen(base.lm_head);
  std::map<std::string, Tensor> init(swiftkv.begin(), swiftkv.end());
  auto trainable = [&](const std::string& name) {
    const auto it = init.find(name);
    if (it == init.end()) {
      throw Error(str_cat("missing SwiftKV tensor '", name, "'"));
    }
    return add_trainable(name, to_torch(it->second));
  };
  norm_swiftkv_ = trainable(std::string(names::kNormSwiftKV));
  const int64_t num_layers = config_.num_hidden_layers;
  for (int64_t j = 0; j < num_layers; ++j) {
    const LayerWeights& w = base.layers[j];
    Layer layer{frozen(w.input_layernorm),
                frozen(w.q_proj),
                frozen(w.k_proj),
                frozen(w.v_proj),
                frozen(w.o_proj),
                frozen(w.post_attention_layernorm),
                frozen(w.gate_proj),
                frozen(w.up_proj),
                frozen(w.down_proj),
                {},
                {},
                {}};
    if (j >= config_.num_key_value_layers) {
      layer.q_proj_swiftkv = trainable(names::layer(j, names::kQProjSwiftKV));
      if (config_.is_swiftkv_leader(j)) {
        layer.k_proj_swiftkv = trainable(names::layer(j, names::kKProjSwiftKV));
        layer.v_proj_swiftkv = trainable(names::layer(j, names::kVProjSwiftKV));
      }
    }
    layers_.push_back(std::move(layer));
  }
}

std::unique_ptr<TorchLlama> TorchLlama::random(const ModelConfig& config, uint64_t seed,
                                               TorchLlamaOptions options) {
  // torch's global generators: one model at a time, so every rank of a data-parallel run
  // (data_parallel.h) draws the same weights.
  static std::mutex generator_mutex;
  const std::lock_guard<std::mutex> lock(generator_mutex);
  std::unique_ptr<TorchLlama> model(new TorchLlama(config, options));
  TorchLlama& m = *model;
  const torch::NoGradGuard no_grad;
  torch::manual_seed(seed);  // seeds the CPU and every CUDA generator
  const torch::TensorOptions f32 =
      torch::TensorOptions().dtype(torch::kFloat32).device(options.device);
  const int64_t hidden = config.hidden_size;
  const auto matrix = [&](int64_t rows, int64_t cols) {
    return torch::randn({rows, cols}, f32).mul_(0.02).to(options.frozen_dtype);
  };
  const auto norm = [&] {
    return torch::randn({hidden}, f32).mul_(0.05).add_(1.0).to(options.frozen_dtype);
  };
  const int64_t q_width = config.num_attention_heads * config.head_dim;
  const int64_t kv_width = config.num_key_value_heads * config.head_dim;
  const int64_t inter = config.intermediate_size;
  const int64_t num_layers = config.num_hidden_layers;
  const int64_t first = config.num_key_value_layers;
  const int64_t group = config.key_value_group_size;
  m.embed_tokens_ = matrix(config.vocab_size, hidden);
  for (int64_t j = 0; j < num_layers; ++j) {
    Layer layer;
    layer.input_layernorm = norm();
    layer.q_proj = matrix(q_width, hidden);
    layer.k_proj = matrix(kv_width, hidden);
    layer.v_proj = matrix(kv_width, hidden);
    layer.o_proj = matrix(hidden, q_width);
    layer.post_attention_layernorm = norm();
    layer.gate_proj = matrix(inter, hidden);
    layer.up_proj = matrix(inter, hidden);
    layer.down_proj = matrix(hidden, inter);
    m.layers_.push_back(std::move(layer));
  }
  m.norm_ = norm();
  m.lm_head_ = config.tie_word_embeddings ? m.embed_tokens_ : matrix(config.vocab_size, hidden);
  // init_swiftkv_tensors on the device: norm_swiftkv = layer l's input norm, q_proj_swiftkv =
  // q_proj, each leader's k/v_proj_swiftkv = the mean of its group's k/v_proj (f32).
  if (first < num_layers) {
    m.norm_swiftkv_ =
        m.add_trainable(std::string(names::kNormSwiftKV), m.layers_[first].input_layernorm);
  }
  for (int64_t j = first; j < num_layers; ++j) {
    Layer& layer = m.layers_[j];
    layer.q_proj_swiftkv = m.add_trainable(names::layer(j, names::kQProjSwiftKV), layer.q_proj);
    if (config.is_swiftkv_leader(j)) {
      torch::Tensor k_mean = torch::zeros({kv_width, hidden}, f32);
      torch::Tensor v_mean = torch::zeros({kv_width, hidden}, f32);
      for (int64_t member = j; member < j + group; ++member) {
        k_mean.add_(m.layers_[member].k_proj.to(torch::kFloat32) / static_cast<double>(group));
        v_mean.add_(m.layers_[member].v_proj.to(torch::kFloat32) / static_cast<double>(group));
      }
      layer.k_proj_swiftkv = m.add_trainable(names::layer(j, names::kKProjSwiftKV), k_mean);
      layer.v_proj_swiftkv = m.add_trainable(names::layer(j, names::kVProjSwiftKV), v_mean);
    }
  }
  return model;
}

torch::Tensor TorchLlama::add_trainable(const std::string& name, const torch::Tensor& init) {
  torch::Tensor param =
      init.detach().to(options_.device, options_.param_dtype, /*non_blocking=*/false,
                       /*copy=*/true);
  param.set_requires_grad(true);
  trainable_.emplace_back(name, param);
  return param;
}

torch::Tensor TorchLlama::frozen(const Tensor& tensor) const {
  return to_torch(tensor).to(options_.device, options_.frozen_dtype);
}

std::vector<torch::Tensor> TorchLlama::trainable_parameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& [name, param] : trainable_) {
    out.push_back(param);
  }
  return out;
}

std::vector<torch::Tensor> TorchLlama::frozen_parameters() const {
  std::vector<torch::Tensor> out = {embed_tokens_, norm_};
  if (!config_.tie_word_embeddings) {
    out.push_back(lm_head_);
  }
  for (const Layer& l : layers_) {
    for (const torch::Tensor& t :
         {l.input_layernorm, l.q_proj, l.k_proj, l.v_proj, l.o_proj, l.post_attention_layernorm,
          l.gate_proj, l.up_proj, l.down_proj}) {
      out.push_back(t);
    }
  }
  return out;
}

NamedTensors TorchLlama::trainable_tensors(DType dtype) const {
  NamedTensors out;
  for (const auto& [name, param] : trainable_) {
    out.emplace_back(name, from_torch(param, dtype));
  }
  return out;
}

// LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) in f32 (or f64), then weight * result.
torch::Tensor TorchLlama::rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const {
  const torch::Tensor xf = x.scalar_type() == torch::kFloat64 ? x : x.to(torch::kFloat32);
  const torch::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  const torch::Tensor normed = xf * torch::rsqrt(variance + config_.rms_norm_eps);
  return weight.to(normed.scalar_type()) * normed;
}

// y = x W^T with the matmul in compute_dtype (autocast) and the result in x's dtype.
torch::Tensor TorchLlama::linear(const torch::Tensor& x, const torch::Tensor& weight) const {
  const torch::Dtype compute =
      x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : options_.compute_dtype;
  return torch::matmul(x.to(compute), weight.to(compute).t()).to(x.scalar_type());
}

TorchLlama::Rope TorchLlama::rope(const torch::Tensor& positions) const {
  // transformers' LlamaRotaryEmbedding: freqs = position * inv_freq in f32, emb = cat(freqs,
  // freqs), cos/sin times attention_scaling, then cast to the activations' dtype.
  const torch::Tensor freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq_;
  const torch::Tensor emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);
  return {(emb.cos() * attention_scaling_).to(options_.param_dtype),
          (emb.sin() * attention_scaling_).to(options_.param_dtype)};
}

namespace {
torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos,
                         const torch::Tensor& sin) {
  return x * cos.to(x.scalar_type()) + rotate_half(x) * sin.to(x.scalar_type());
}
}  // namespace

// [rows, 1, seq, seq] bool: key j visible to query i (same segment, j <= i).
torch::Tensor TorchLlama::attention_mask(const torch::Tensor& segments) const {
  const int64_t seq = segments.size(1);
  const torch::Tensor same = segments.unsqueeze(2) == segments.unsqueeze(1);
  const torch::Tensor causal =
      torch::ones({seq, seq}, torch::TensorOptions().dtype(torch::kBool).device(segments.device()))
          .tril();
  return (same & causal).unsqueeze(1);
}

torch::Tensor TorchLlama::embed(const torch::Tensor& tokens) const {
  return embed_tokens_.index_select(0, tokens.reshape({-1}))
      .reshape({tokens.size(0), tokens.size(1), -1})
      .to(options_.param_dtype);
}

torch::Tensor TorchLlama::head(const torch::Tensor& hidden) const {
  const torch::Tensor logits = linear(rms_norm(hidden, norm_).to(hidden.scalar_type()), lm_head_);
  return logits.scalar_type() == torch::kFloat64 ? logits : logits.to(torch::kFloat32);
}

torch::Tensor TorchLlama::split_heads(const torch::Tensor& x, int64_t num_heads) const {
  return x.reshape({x.size(0), x.size(1), num_heads, config_.head_dim}).transpose(1, 2);
}

bool TorchLlama::uses_fused_attention() const {
#if TORCH_VERSION_MAJOR >= 2
  return options_.fused_attention && options_.device.is_cuda();
#else
  return false;
#endif
}

torch::Tensor TorchLlama::attention(const torch::Tensor& q, const torch::Tensor& keys,
                                    const torch::Tensor& values, const torch::Tensor& mask,
                                    double scale) const {
#if TORCH_VERSION_MAJOR >= 2
  if (uses_fused_attention()) {
    // The fused kernels keep the scores in f32 on chip, as the eager path's f32 softmax.
    return at::scaled_dot_product_attention(q, keys, values, mask, 0.0, false, scale);
  }
#endif
  // Eager attention as transformers: scores in compute dtype, softmax in f32 (f64 in checks).
  const torch::Tensor scores = torch::matmul(q, keys.transpose(-2, -1)) * scale;
  const torch::Dtype softmax_dtype =
      q.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const torch::Tensor probs =
      torch::softmax(scores.to(softmax_dtype)
                         .masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity()),
                     -1)
          .to(q.scalar_type());
  return torch::matmul(probs, values);
}

torch::Tensor TorchLlama::layer_forward(int64_t layer, const torch::Tensor& hidden,
                                        const torch::Tensor& q_weight, const torch::Tensor& k,
                                        const torch::Tensor& v, const torch::Tensor& mask,
                                        const torch::Tensor& cos, const torch::Tensor& sin) const {
  const Layer& w = layers_[layer];
  const int64_t num_heads = config_.num_attention_heads;
  const int64_t num_kv_heads = config_.num_key_value_heads;
  const torch::Tensor attn_in = rms_norm(hidden, w.input_layernorm).to(hidden.scalar_type());
  const torch::Tensor q = apply_rope(split_heads(linear(attn_in, q_weight), num_heads), cos, sin);
  torch::Tensor keys = k;
  torch::Tensor values = v;
  if (!keys.defined()) {
    keys = apply_rope(split_heads(linear(attn_in, w.k_proj), num_kv_heads), cos, sin);
    values = split_heads(linear(attn_in, w.v_proj), num_kv_heads);
  }
  const int64_t group = num_heads / num_kv_heads;  // repeat_kv: head h reads kv head h / group
  keys = keys.repeat_interleave(group, 1);
  values = values.repeat_interleave(group, 1);
  const torch::Dtype compute =
      hidden.scalar_type() == torch::kFloat64 ? torch::kFloat64 : options_.compute_dtype;
  const double scale = 1.0 / std::sqrt(static_cast<double>(config_.head_dim));
  const torch::Tensor attn =
      attention(q.to(compute), keys.to(compute), values.to(compute), mask, scale)
          .transpose(1, 2)
          .reshape({hidden.size(0), hidden.size(1), -1})
          .to(hidden.scalar_type());
  const torch::Tensor after_attn = hidden + linear(attn, w.o_proj);
  const torch::Tensor mlp_in =
      rms_norm(after_attn, w.post_attention_layernorm).to(hidden.scalar_type());
  const torch::Tensor mlp =
      linear(torch::silu(linear(mlp_in, w.gate_proj)) * linear(mlp_in, w.up_proj), w.down_proj);
  return after_attn + mlp;
}

TorchForward TorchLlama::teacher_forward(const TorchBatch& batch) const {
  const torch::NoGradGuard no_grad;
  const Rope r = rope(batch.positions);
  const torch::Tensor mask = attention_mask(batch.segments);
  TorchForward out;
  torch::Tensor hidden = embed(batch.tokens);
  const int64_t num_layers = config_.num_hidden_layers;
  for (int64_t j = 0; j < num_layers; ++j) {
    if (j == config_.num_key_value_layers) {
      out.swiftkv_input = hidden;
    }
    if (j == num_layers - 1) {
      out.last_layer_input = hidden;
    }
    hidden = layer_forward(j, hidden, layers_[j].q_proj, {}, {}, mask, r.cos, r.sin);
  }
  if (!out.swiftkv_input.defined()) {
    out.swiftkv_input = hidden;
  }
  out.logits = head(hidden);
  return out;
}

TorchForward TorchLlama::student_forward(const TorchBatch& batch,
                                         const torch::Tensor& swiftkv_input) const {
  const Rope r = rope(batch.positions);
  const torch::Tensor mask = attention_mask(batch.segments);
  const int64_t l = config_.num_key_value_layers;
  const int64_t num_layers = config_.num_hidden_layers;
  torch::Tensor hidden = swiftkv_input;
  if (!hidden.defined()) {
    const torch::NoGradGuard no_grad;  // layers < l are frozen and identical to the teacher's
    hidden = embed(batch.tokens);
    for (int64_t j = 0; j < l; ++j) {
      hidden = layer_forward(j, hidden, layers_[j].q_proj, {}, {}, mask, r.cos, r.sin);
    }
  }
  TorchForward out;
  out.swiftkv_input = hidden;
  // s = norm_swiftkv(x_l); each leader's K (RoPE) and V from s, shared by its group.
  const torch::Tensor s = rms_norm(hidden, norm_swiftkv_).to(hidden.scalar_type());
  torch::Tensor k;
  torch::Tensor v;
  for (int64_t j = l; j < num_layers; ++j) {
    const Layer& w = layers_[j];
    if (config_.is_swiftkv_leader(j)) {
      k = apply_rope(split_heads(linear(s, w.k_proj_swiftkv), config_.num_key_value_heads), r.cos,
                     r.sin);
      v = split_heads(linear(s, w.v_proj_swiftkv), config_.num_key_value_heads);
    }
    if (j == num_layers - 1) {
      out.last_layer_input = hidden;
    }
    if (options_.checkpoint_later_layers && torch::GradMode::is_enabled()) {
      hidden =
          CheckpointedLayer::apply(hidden, w.q_proj_swiftkv, k, v, mask, r.cos, r.sin, this, j);
    } else {
      hidden = layer_forward(j, hidden, w.q_proj_swiftkv, k, v, mask, r.cos, r.sin);
    }
  }
  if (!out.last_layer_input.defined()) {
    out.last_layer_input = hidden;
  }
  out.logits = head(hidden);
  return out;
}

}  // namespace swiftkv
