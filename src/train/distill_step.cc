#include "train/distill_step.h"

#include "core/error.h"

namespace swiftkv {

TorchLlamaOptions make_torch_llama_options(const std::string& device, const std::string& precision,
                                           const std::string& checkpointing,
                                           std::string* resolved_precision) {
  TorchLlamaOptions options;
  options.device = torch::Device(device);
  const bool cuda = options.device.is_cuda();
  if (cuda && !torch::cuda::is_available()) {
    throw Error(str_cat("--device ", device, ": this libtorch has no usable CUDA device"));
  }
  const std::string resolved = precision == "auto" ? (cuda ? "bf16" : "f32") : precision;
  if (resolved == "bf16") {
    options.frozen_dtype = torch::kBFloat16;
    options.compute_dtype = torch::kBFloat16;
  } else if (resolved != "f32") {
    throw Error(str_cat("--precision: expected auto, f32 or bf16, got '", precision, "'"));
  }
  if (checkpointing != "auto" && checkpointing != "on" && checkpointing != "off") {
    throw Error(
        str_cat("--gradient-checkpointing: expected auto, on or off, got '", checkpointing, "'"));
  }
  options.checkpoint_later_layers = checkpointing == "auto" ? cuda : checkpointing == "on";
  if (resolved_precision != nullptr) {
    *resolved_precision = resolved;
  }
  return options;
}

std::unique_ptr<torch::optim::AdamW> make_adamw(const TorchLlama& model, double learning_rate,
                                                double weight_decay) {
  return std::make_unique<torch::optim::AdamW>(model.trainable_parameters(),
                                               torch::optim::AdamWOptions(learning_rate)
                                                   .betas({0.9, 0.999})
                                                   .eps(1e-8)
                                                   .weight_decay(weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double learning_rate) {
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learning_rate);
  }
}

DistillStepResult distill_step(const TorchLlama& model, const TorchBatch& batch,
                               const torch::Tensor& loss_mask, const torch::Tensor& valid,
                               const DistillLossOptions& loss_options, double max_grad_norm,
                               torch::optim::Optimizer& optimizer) {
  const TorchForward teacher = model.teacher_forward(batch);
  const TorchForward student = model.student_forward(batch, teacher.swiftkv_input);
  const DistillLoss loss = distill_loss(student.logits, teacher.logits, student.last_layer_input,
                                        teacher.last_layer_input, loss_mask, valid, loss_options);
  optimizer.zero_grad();
  loss.total.backward();
  DistillStepResult result;
  if (max_grad_norm > 0) {
    result.grad_norm =
        torch::nn::utils::clip_grad_norm_(model.trainable_parameters(), max_grad_norm);
  }
  optimizer.step();
  result.loss = loss.total.item<double>();
  result.kl = loss.kl.item<double>();
  result.hidden_mse = loss.hidden.item<double>();
  return result;
}

}  // namespace swiftkv
