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
  } else if (resolved == "f64") {
    options.param_dtype = torch::kFloat64;
    options.frozen_dtype = torch::kFloat64;
    options.compute_dtype = torch::kFloat64;
  } else if (resolved != "f32") {
    throw Error(str_cat("--precision: expected auto, f32, bf16 or f64, got '", precision, "'"));
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

void broadcast_trainable_parameters(const TorchLlama& model, DataParallelRank& rank) {
  const torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> params = model.trainable_parameters();
  std::vector<torch::Tensor> flat;
  flat.reserve(params.size());
  for (const torch::Tensor& p : params) {
    flat.push_back(p.detach().reshape({-1}));
  }
  torch::Tensor bucket = torch::cat(flat);
  rank.broadcast_from_main(bucket);
  int64_t offset = 0;
  for (const torch::Tensor& p : params) {
    p.copy_(bucket.narrow(0, offset, p.numel()).view_as(p));
    offset += p.numel();
  }
}

DistillStepResult distill_step(const TorchLlama& model, const TorchBatch& batch,
                               const torch::Tensor& loss_mask, const torch::Tensor& valid,
                               const DistillLossOptions& loss_options, double max_grad_norm,
                               torch::optim::Optimizer& optimizer, DataParallelRank* rank) {
  const bool has_rows = batch.tokens.defined() && batch.tokens.size(0) > 0;
  SWIFTKV_CHECK(has_rows || rank != nullptr, "distill_step: an empty batch needs a rank");
  const std::vector<torch::Tensor> params = model.trainable_parameters();
  const torch::TensorOptions param_options = params.front().options();
  torch::Tensor counts;  // undefined: the batch's own
  if (rank != nullptr) {
    counts = has_rows ? distill_loss_counts(loss_mask, valid)
                      : torch::zeros({2}, param_options.dtype(torch::kFloat64));
    rank->all_reduce_sum(counts);
  }
  optimizer.zero_grad();
  torch::Tensor terms;  // [3]: total, kl, hidden MSE (this rank's share with a rank)
  if (has_rows) {
    const TorchForward teacher = model.teacher_forward(batch);
    const TorchForward student = model.student_forward(batch, teacher.swiftkv_input);
    const DistillLoss loss =
        distill_loss(student.logits, teacher.logits, student.last_layer_input,
                     teacher.last_layer_input, loss_mask, valid, loss_options, counts);
    loss.total.backward();
    terms = torch::stack({loss.total.detach(), loss.kl, loss.hidden});
  } else {
    terms = torch::zeros({3}, param_options);
  }
  if (rank != nullptr) {
    // One flat bucket: every trainable gradient (zeros where a rank had no rows), then the loss
    // terms. [num_trainable + 3] in the parameters' dtype.
    std::vector<torch::Tensor> parts;
    parts.reserve(params.size() + 1);
    for (const torch::Tensor& p : params) {
      parts.push_back(p.grad().defined() ? p.grad().reshape({-1})
                                         : torch::zeros({p.numel()}, param_options));
    }
    parts.push_back(terms.to(param_options.dtype()));
    torch::Tensor bucket = torch::cat(parts);
    rank->all_reduce_sum(bucket);
    int64_t offset = 0;
    for (const torch::Tensor& p : params) {
      const torch::Tensor summed = bucket.narrow(0, offset, p.numel()).view_as(p);
      if (p.grad().defined()) {
        p.mutable_grad().copy_(summed);
      } else {
        p.mutable_grad() = summed.clone();
      }
      offset += p.numel();
    }
    terms = bucket.narrow(0, offset, 3);
  }
  DistillStepResult result;
  if (max_grad_norm > 0) {
    result.grad_norm = torch::nn::utils::clip_grad_norm_(params, max_grad_norm);
  }
  optimizer.step();
  const torch::Tensor host = terms.to(torch::kCPU, torch::kFloat64);
  result.loss = host[0].item<double>();
  result.kl = host[1].item<double>();
  result.hidden_mse = host[2].item<double>();
  return result;
}

}  // namespace swiftkv
