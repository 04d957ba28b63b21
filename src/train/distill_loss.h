// The SwiftKV distillation loss (DESIGN.md §6, swiftkv-notes §1.5 version 3):
//   loss = kl_weight * T^2 * KL(teacher || student) at temperature T, averaged over the
//          positions whose next token is a response token (loss_mask), plus
//          hidden_weight * MSE(student x_{L-1}, teacher x_{L-1}) over every real (non-padding)
//          token and hidden unit.
// KL(p || q) = sum_v p_v (log p_v - log q_v), p = softmax(teacher / T), q = softmax(student / T).
// ArcticTraining averages the masked KL over all positions (masked ones count as zeros); we
// average over the masked positions, so the weight does not depend on the prompt share of a
// batch. Computed in f32 (f64 when the logits are f64).
#pragma once

#include "train/torch_include.h"

namespace swiftkv {

struct DistillLossOptions {
  double temperature = 2.0;
  double kl_weight = 1.0;
  double hidden_weight = 1.0;
};

struct DistillLoss {
  torch::Tensor total;   // scalar, differentiable
  torch::Tensor kl;      // scalar, T^2-scaled, detached
  torch::Tensor hidden;  // scalar MSE, detached
};

// The denominators of the two averages: [2] f64 on the mask's device, (number of loss_mask
// positions, number of valid tokens). Data parallel: each rank all-reduces its counts and
// passes the global ones to distill_loss, so the ranks' losses (and gradients) add up to those
// of the whole batch.
torch::Tensor distill_loss_counts(const torch::Tensor& loss_mask, const torch::Tensor& valid);

// logits: [rows, seq, vocab]; hidden: [rows, seq, hidden_size]; loss_mask, valid: [rows, seq]
// (bool or 0/1). Teacher tensors carry no gradient. `counts`: distill_loss_counts of the batch
// the averages run over; undefined = this batch's own.
DistillLoss distill_loss(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                         const torch::Tensor& student_hidden, const torch::Tensor& teacher_hidden,
                         const torch::Tensor& loss_mask, const torch::Tensor& valid,
                         const DistillLossOptions& options, const torch::Tensor& counts = {});

// Per-position KL(teacher || student) at temperature 1, [rows, seq] (evaluation).
torch::Tensor kl_per_position(const torch::Tensor& student_logits,
                              const torch::Tensor& teacher_logits);

}  // namespace swiftkv
