// One optimizer step of SwiftKV distillation and the pieces around it, shared by
// `swiftkv distill` (distill.h) and `swiftkv bench distill` (distill_bench.h) so the benchmark
// times exactly the trainer's step: teacher forward (no autograd), student forward from the
// teacher's x_l, distill_loss, backward (recomputing checkpointed layers), gradient-norm
// clipping and AdamW. With a DataParallelRank (data_parallel.h) the step is one rank's share of a
// data-parallel step.
#pragma once

#include <memory>
#include <string>

#include "train/data_parallel.h"
#include "train/distill_loss.h"
#include "train/torch_include.h"
#include "train/torch_llama.h"

namespace swiftkv {

// TorchLlamaOptions for a device ("cpu", "cuda", "cuda:N"), precision ("auto" = bf16 on CUDA,
// f32 on CPU; "f32"; "bf16": frozen weights and matmuls in bf16; "f64": everything in f64, a
// reference for checking f32 runs) and gradient checkpointing
// ("auto" = on for CUDA; "on"; "off"). Throws Error for bad values or a missing CUDA device.
// `resolved_precision` (optional) receives "f32", "bf16" or "f64".
TorchLlamaOptions make_torch_llama_options(const std::string& device, const std::string& precision,
                                           const std::string& checkpointing,
                                           std::string* resolved_precision = nullptr);

// AdamW over the model's trainable parameters (betas 0.9/0.999, eps 1e-8).
std::unique_ptr<torch::optim::AdamW> make_adamw(const TorchLlama& model, double learning_rate,
                                                double weight_decay);
void set_learning_rate(torch::optim::Optimizer& optimizer, double learning_rate);

// Copies rank 0's trainable parameters to every rank (one flat broadcast), so all ranks start
// from identical parameters whatever their construction did.
void broadcast_trainable_parameters(const TorchLlama& model, DataParallelRank& rank);

struct DistillStepResult {
  double loss = 0.0;
  double kl = 0.0;  // T^2-scaled, as in the loss
  double hidden_mse = 0.0;
  double grad_norm = 0.0;  // before clipping; 0 when clipping is off
};

// loss_mask, valid: [rows, seq] on the model's device (make_batch's). Reading the scalars
// back synchronises the device, so the step has finished when this returns.
//
// With `rank` (data parallel), `batch` is this rank's slice of the global batch (undefined
// tokens: no rows this step, e.g. the last partial batch of an epoch). The ranks all-reduce
// distill_loss_counts first and normalise by the global counts, so each rank's loss is its share
// of the global batch's loss; after backward they sum the trainable parameters' gradients and
// the three loss terms in one flat bucket (one all-reduce), then clip and step identically. The
// N-rank gradient is thus the 1-rank gradient of the global batch up to the order of the f32
// sums, and every rank's result holds the global losses.
DistillStepResult distill_step(const TorchLlama& model, const TorchBatch& batch,
                               const torch::Tensor& loss_mask, const torch::Tensor& valid,
                               const DistillLossOptions& loss_options, double max_grad_norm,
                               torch::optim::Optimizer& optimizer,
                               DataParallelRank* rank = nullptr);

}  // namespace swiftkv
