#include "train/distill_loss.h"

namespace swiftkv {
namespace {

torch::Tensor at_least_f32(const torch::Tensor& x) {
  return x.scalar_type() == torch::kFloat64 ? x : x.to(torch::kFloat32);
}

// sum_v p_v (log p_v - log q_v) over the last dim at temperature `t`.
torch::Tensor kl_at(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                    double t) {
  const torch::Tensor teacher_logp = torch::log_softmax(at_least_f32(teacher_logits) / t, -1);
  const torch::Tensor student_logp = torch::log_softmax(at_least_f32(student_logits) / t, -1);
  return (teacher_logp.exp() * (teacher_logp - student_logp)).sum(-1);
}

}  // namespace

torch::Tensor kl_per_position(const torch::Tensor& student_logits,
                              const torch::Tensor& teacher_logits) {
  return kl_at(student_logits, teacher_logits, 1.0);
}

torch::Tensor distill_loss_counts(const torch::Tensor& loss_mask, const torch::Tensor& valid) {
  return torch::stack({loss_mask.to(torch::kFloat64).sum(), valid.to(torch::kFloat64).sum()});
}

DistillLoss distill_loss(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                         const torch::Tensor& student_hidden, const torch::Tensor& teacher_hidden,
                         const torch::Tensor& loss_mask, const torch::Tensor& valid,
                         const DistillLossOptions& options, const torch::Tensor& counts) {
  const double t = options.temperature;
  const torch::Tensor kl_pos = kl_at(student_logits, teacher_logits, t);
  const torch::Tensor mask = loss_mask.to(kl_pos.scalar_type());
  const torch::Tensor diff = at_least_f32(student_hidden) - at_least_f32(teacher_hidden);
  const torch::Tensor valid_f = valid.to(diff.scalar_type());
  // Integer counts: exact in f32 below 2^24 tokens, so local and all-reduced counts agree.
  const torch::Tensor num_positions =
      counts.defined() ? counts[0].to(kl_pos.scalar_type()) : mask.sum();
  const torch::Tensor num_tokens =
      counts.defined() ? counts[1].to(diff.scalar_type()) : valid_f.sum();

  const torch::Tensor kl = (kl_pos * mask).sum() / num_positions.clamp_min(1.0) * (t * t);
  const torch::Tensor mse = (diff.pow(2).sum(-1) * valid_f).sum() /
                            (num_tokens.clamp_min(1.0) * static_cast<double>(diff.size(-1)));
  DistillLoss out;
  out.total = options.kl_weight * kl + options.hidden_weight * mse;
  out.kl = kl.detach();
  out.hidden = mse.detach();
  return out;
}

}  // namespace swiftkv
