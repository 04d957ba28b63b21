// `swiftkv distill` (DESIGN.md §6): self-distillation of a Llama checkpoint into a SwiftKV one.
//
// Teacher = the checkpoint with its original wiring; student = the same frozen weights plus the
// SwiftKV parameters (init_swiftkv_tensors, or the ones already in a SwiftKV checkpoint); only
// those train. Loss: distill_loss.h. AdamW (betas 0.9/0.999, weight decay 0 by default), the
// Hugging Face `linear` schedule with warm-up (lr 0 at step 0, peak after warm-up, 0 at the
// end), gradient-norm clipping. On CUDA: bf16 matmuls (autocast), gradient checkpointing of
// layers >= l.
//
// Output directory: the final SwiftKV checkpoint (DESIGN.md §1: config.json, safetensors,
// tokenizer files; `swiftkv generate` loads it directly), `metrics.jsonl` (one object per step
// and per held-out evaluation), `loss_curve.svg`, and `checkpoint-<step>/` periodic saves, each
// a loadable checkpoint plus `trainer_state.json` and `trainer_state.pt` (optimizer moments and
// f32 master parameters); `resume` continues from the latest of them (same data order, same
// schedule).
//
// Data parallel (`nproc` > 1, data_parallel.h): one thread per rank, rank r on cuda:r (NCCL) or
// on the CPU (gloo). `batch_size` stays the global batch of an optimizer step: rank r takes rows
// [r * B / N, (r + 1) * B / N) of each global batch (B must be a multiple of N), the step
// (distill_step.h) normalises by the global token counts and all-reduces the gradients, so the
// run follows the 1-rank run up to f32 summation order. Rank 0 alone writes checkpoints (same
// format; `resume` works with any nproc), metrics.jsonl, the loss curve and the progress bar;
// the held-out evaluation is split over the ranks and summed. This header is free of libtorch
// so the CLI stays light.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace swiftkv {

struct DistillOptions {
  std::string model;              // teacher checkpoint directory (Llama or SwiftKV)
  std::string output;             // output directory
  std::vector<std::string> data;  // training data files (dataset.h formats)
  std::string eval_data;          // held-out file; empty = held_out_fraction of `data`
  double held_out_fraction = 0.05;
  int64_t num_kv_layers = -1;  // l; -1 = L / 2 (or the checkpoint's for a SwiftKV input)
  int64_t group_size = 0;      // G; 0 = 1 (or the checkpoint's)
  int64_t max_length = 512;    // packed row length (tokens)
  int64_t batch_size = 8;      // rows per optimizer step (global: over all ranks)
  int nproc = 1;               // data-parallel ranks (threads; rank r on cuda:r with "cuda")
  int64_t num_epochs = 1;
  int64_t max_steps = 0;  // > 0: stop after this many steps (the schedule spans them)
  double learning_rate = 2e-4;
  double warmup_ratio = 0.05;
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;
  double temperature = 2.0;
  double kl_weight = 1.0;
  double hidden_weight = 1.0;
  uint64_t seed = 42;
  int64_t save_every = 0;  // steps between periodic checkpoints; 0 = final save only
  int64_t eval_every = 0;  // steps between held-out evaluations; 0 = start and end only
  bool resume = false;
  std::string device = "cpu";          // cpu | cuda | cuda:N (N only with nproc 1)
  std::string precision = "auto";      // auto (bf16 on CUDA, f32 on CPU) | f32 | bf16 | f64
  std::string checkpointing = "auto";  // auto (on for CUDA) | on | off
  int threads = 0;  // CPU threads for libtorch, per rank; 0 = its default (cores / nproc on CPU)
  bool progress = true;  // progress bar on stderr

  // Prompt-only documents: the teacher (our engine, original wiring) writes the responses.
  bool generate_responses = false;
  std::string responses_output;  // JSONL written with the answers; default <output>/responses.jsonl
  int32_t response_max_tokens = 256;
  float response_temperature = 0.8F;
  float response_top_p = 0.95F;
};

struct DistillResult {
  int64_t steps = 0;
  double initial_held_out_kl = 0.0;  // KL(teacher || student) at T = 1, response positions
  double final_held_out_kl = 0.0;
  double initial_top1 = 0.0;  // top-1 agreement with the teacher
  double final_top1 = 0.0;
  double seconds = 0.0;
};

// Runs the whole distillation; throws Error for bad options, data or checkpoints.
DistillResult run_distill(const DistillOptions& options);

}  // namespace swiftkv
