// One optimizer step of SwiftKV distillation and the pieces around it, shared by
// `swiftkv distill` (distill.h) and `swiftkv bench distill` (distill_bench.h) so the benchmark
// times exactly the trainer's step: teacher forward (no autograd), student forward from the
// teacher's x_l, distill_loss, backward (recomputing checkpointed layers), gradient-norm
// clipping and AdamW.
#pragma once

#include <memory>
#include <string>

#include "train/distill_loss.h"
#include "train/torch_include.h"
#include "train/torch_llama.h"

namespace swiftkv {

// TorchLlamaOptions for a device ("cpu", "cuda", "cuda:N"), precision ("auto" = bf16 on CUDA,
// f32 on CPU; "f32"; "bf16": frozen weights and matmuls in bf16) and gradient checkpointing
// ("auto" = on for CUDA; "on"; "off"). Throws Error for bad values or a missing CUDA device.
// `resolved_precision` (optional) receives "f32" or "bf16".
TorchLlamaOptions make_torch_llama_options(const std::string& device, const std::string& precision,
                                           const std::string& checkpointing,
                                           std::string* resolved_precision = nullptr);

// AdamW over the model's trainable parameters (betas 0.9/0.999, eps 1e-8).
std::unique_ptr<torch::optim::AdamW> make_adamw(const TorchLlama& model, double learning_rate,
                                                double weight_decay);
void set_learning_rate(torch::optim::Optimizer& optimizer, double learning_rate);

struct DistillStepResult {
  double loss = 0.0;
  double kl = 0.0;  // T^2-scaled, as in the loss
  double hidden_mse = 0.0;
  double grad_norm = 0.0;  // before clipping; 0 when clipping is off
};

// loss_mask, valid: [rows, seq] on the model's device (make_batch's). Reading the scalars
// back synchronises the device, so the step has finished when this returns.
DistillStepResult distill_step(const TorchLlama& model, const TorchBatch& batch,
                               const torch::Tensor& loss_mask, const torch::Tensor& valid,
                               const DistillLossOptions& loss_options, double max_grad_norm,
                               torch::optim::Optimizer& optimizer);

}  // namespace swiftkv
