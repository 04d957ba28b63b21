// The Llama / Llama-SwiftKV forward in libtorch, for distillation (DESIGN.md §1, §6).
//
// One object holds one frozen copy of the base weights (shared by teacher and student) and the
// trainable SwiftKV parameters (norm_swiftkv, q_proj_swiftkv of layers >= l, k/v_proj_swiftkv
// of group leaders). The math is exactly the engine's LlamaModel (and transformers'):
// RMSNorm computed in f32 as LlamaRMSNorm, rotate-half RoPE with rope_frequencies(), GQA with
// kv head = head / (num_heads / num_kv_heads), SwiGLU MLP, tied or untied lm_head.
// Packed rows: each token attends to the earlier tokens of its own segment (document) only.
//
// Precision: parameters (frozen and trainable) are stored as `param_dtype` (f32, or f64 for
// gradient checks); on GPU the frozen weights may be stored as bf16 and every matmul then runs
// in `compute_dtype` = bf16 with the residual stream, norms, softmax and losses in f32 — what
// torch.autocast(bfloat16) does, written out so it does not depend on libtorch's autocast API.
// Gradient checkpointing (optional) wraps each student layer >= l in a custom autograd
// function that keeps only its inputs and recomputes the layer in backward.
//
// Not thread-safe (autograd state); one trainer owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"
#include "model/weights.h"
#include "train/torch_include.h"

namespace swiftkv {

struct TorchLlamaOptions {
  torch::Device device = torch::kCPU;
  torch::Dtype param_dtype = torch::kFloat32;    // trainable parameters (master copy)
  torch::Dtype frozen_dtype = torch::kFloat32;   // the frozen base weights
  torch::Dtype compute_dtype = torch::kFloat32;  // matmul inputs (bf16 = autocast on GPU)
  bool checkpoint_later_layers = false;          // recompute layers >= l in backward
  // Attention through scaled_dot_product_attention (fused flash / memory-efficient kernels, no
  // [seq, seq] score tensors) when the tensors are on CUDA and libtorch is >= 2.0; otherwise,
  // and when false, eager attention as transformers' (the CPU reference and the f64 checks).
  bool fused_attention = true;
};

// A packed batch on the model's device: all [num_rows, seq_len] int64.
struct TorchBatch {
  torch::Tensor tokens;
  torch::Tensor positions;
  torch::Tensor segments;  // -1 = padding
};

struct TorchForward {
  torch::Tensor logits;            // [num_rows, seq_len, vocab_size], param dtype or f32
  torch::Tensor swiftkv_input;     // x_l: [num_rows, seq_len, hidden_size]
  torch::Tensor last_layer_input;  // x_{L-1}: [num_rows, seq_len, hidden_size]
};

class TorchLlama {
 public:
  // `config` is the SwiftKV config (l, G); `base` the model's weights (any dtype); `swiftkv`
  // the initial SwiftKV parameters by Hugging Face name (init_swiftkv_tensors or a checkpoint).
  TorchLlama(const ModelConfig& config, const ModelWeights& base, const NamedTensors& swiftkv,
             TorchLlamaOptions options);
  // A model of `config` (a SwiftKV config) with random frozen weights drawn on options.device
  // by torch's generator seeded with `seed` (matrices N(0, 0.02), norms N(1, 0.05), as
  // random_model_weights), nothing built on the host, and the SwiftKV parameters initialised
  // from them as init_swiftkv_tensors does. For throughput benchmarks of large shapes.
  // Reseeds torch's global generators; calls from several threads are serialised.
  static std::unique_ptr<TorchLlama> random(const ModelConfig& config, uint64_t seed,
                                            TorchLlamaOptions options);
  TorchLlama(const TorchLlama&) = delete;
  TorchLlama& operator=(const TorchLlama&) = delete;

  const ModelConfig& config() const { return config_; }
  const TorchLlamaOptions& options() const { return options_; }
  // Whether attention runs through scaled_dot_product_attention (TorchLlamaOptions).
  bool uses_fused_attention() const;

  // The original wiring (teacher), without autograd.
  TorchForward teacher_forward(const TorchBatch& batch) const;
  // The SwiftKV wiring. Layers < l are the teacher's: pass the teacher's x_l (from
  // teacher_forward) to skip them, or an undefined tensor to compute them here.
  TorchForward student_forward(const TorchBatch& batch, const torch::Tensor& swiftkv_input) const;

  // Trainable parameters with their Hugging Face names, in a fixed order.
  const std::vector<std::pair<std::string, torch::Tensor>>& trainable() const { return trainable_; }
  std::vector<torch::Tensor> trainable_parameters() const;
  // Every frozen base tensor (requires_grad false), for tests.
  std::vector<torch::Tensor> frozen_parameters() const;
  // The trainable parameters as host tensors of `dtype` (for checkpoints).
  NamedTensors trainable_tensors(DType dtype) const;

  // One decoder layer with the given attention inputs (used by the checkpointing function).
  // hidden: [rows, seq, hidden]; q_weight: [heads*head_dim, hidden]; k, v (RoPE applied to k):
  // [rows, kv_heads, seq, head_dim]; undefined k/v = the layer's own k/v_proj.
  torch::Tensor layer_forward(int64_t layer, const torch::Tensor& hidden,
                              const torch::Tensor& q_weight, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& mask,
                              const torch::Tensor& cos, const torch::Tensor& sin) const;

 private:
  struct Layer {
    torch::Tensor input_layernorm, q_proj, k_proj, v_proj, o_proj, post_attention_layernorm,
        gate_proj, up_proj, down_proj;
    torch::Tensor q_proj_swiftkv, k_proj_swiftkv, v_proj_swiftkv;  // trainable (j >= l)
  };
  struct Rope {
    torch::Tensor cos, sin;  // [rows, 1, seq, head_dim]
  };

  TorchLlama(const ModelConfig& config, TorchLlamaOptions options);  // no weights yet
  torch::Tensor frozen(const Tensor& tensor) const;
  torch::Tensor add_trainable(const std::string& name, const torch::Tensor& init);
  torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const;
  torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight) const;
  Rope rope(const torch::Tensor& positions) const;
  torch::Tensor attention_mask(const torch::Tensor& segments) const;
  // softmax(q kᵀ · scale, masked) v per head: q [rows, heads, seq, d], keys/values likewise
  // (KV heads already repeated), mask [rows, 1, seq, seq] bool; in q's dtype.
  torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& keys,
                          const torch::Tensor& values, const torch::Tensor& mask,
                          double scale) const;
  torch::Tensor embed(const torch::Tensor& tokens) const;
  torch::Tensor head(const torch::Tensor& hidden) const;
  // [rows, seq, n * head_dim] -> [rows, n, seq, head_dim]
  torch::Tensor split_heads(const torch::Tensor& x, int64_t num_heads) const;

  ModelConfig config_;
  TorchLlamaOptions options_;
  torch::Tensor embed_tokens_, norm_, lm_head_, norm_swiftkv_;
  std::vector<Layer> layers_;
  torch::Tensor inv_freq_;  // [head_dim / 2] f32
  float attention_scaling_ = 1.0F;
  std::vector<std::pair<std::string, torch::Tensor>> trainable_;
};

// torch <-> swiftkv host tensors (copies).
torch::Tensor to_torch(const Tensor& tensor);
Tensor from_torch(const torch::Tensor& tensor, DType dtype);

}  // namespace swiftkv
