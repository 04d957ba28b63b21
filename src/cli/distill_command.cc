// `swiftkv distill`: turn a Llama checkpoint into a SwiftKV one by self-distillation
// (train/distill.h). Flag parsing only.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "train/distill.h"

namespace swiftkv::cli {

void register_distill(CLI::App& app) {
  auto o = std::make_shared<DistillOptions>();
  CLI::App* cmd = app.add_subcommand("distill", "Distill a Llama checkpoint into a SwiftKV model");
  cmd->add_option("--model", o->model, "Teacher checkpoint directory (Llama or SwiftKV)")
      ->required();
  cmd->add_option("--output", o->output, "Output directory")->required();
  cmd->add_option("--data", o->data, "Training data: .jsonl (messages/text/prompt) or .txt")
      ->required();
  cmd->add_option("--eval-data", o->eval_data, "Held-out data (default: split from --data)");
  cmd->add_option("--held-out-fraction", o->held_out_fraction, "Share of --data held out")
      ->capture_default_str();
  cmd->add_option("--num-kv-layers", o->num_kv_layers, "SwiftKV l (default: half the layers)");
  cmd->add_option("--group-size", o->group_size, "AcrossKV group size G (default 1)");
  cmd->add_option("--max-length", o->max_length, "Packed sequence length")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "Sequences per step (global, over all ranks)")
      ->capture_default_str();
  cmd->add_option("--nproc", o->nproc,
                  "Data-parallel ranks: threads, rank r on cuda:r (NCCL) or the CPU (gloo)")
      ->capture_default_str();
  cmd->add_option("--epochs", o->num_epochs, "Epochs")->capture_default_str();
  cmd->add_option("--max-steps", o->max_steps, "Stop after this many steps (0 = epochs)");
  cmd->add_option("--lr", o->learning_rate, "Peak learning rate")->capture_default_str();
  cmd->add_option("--warmup-ratio", o->warmup_ratio, "Warm-up share of the steps")
      ->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay, "AdamW weight decay")->capture_default_str();
  cmd->add_option("--max-grad-norm", o->max_grad_norm, "Gradient clipping (0 = off)")
      ->capture_default_str();
  cmd->add_option("--temperature", o->temperature, "Distillation temperature T")
      ->capture_default_str();
  cmd->add_option("--kl-weight", o->kl_weight, "Weight of T^2 KL(teacher||student)")
      ->capture_default_str();
  cmd->add_option("--hidden-weight", o->hidden_weight, "Weight of the last-layer-input MSE")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed (data order, split, sampling)")->capture_default_str();
  cmd->add_option("--save-every", o->save_every, "Steps between checkpoints (0 = final only)");
  cmd->add_option("--eval-every", o->eval_every, "Steps between held-out evaluations");
  cmd->add_flag("--resume", o->resume, "Continue from the latest checkpoint-<step> in --output");
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--precision", o->precision, "auto, f32, bf16 or f64")->capture_default_str();
  cmd->add_option("--gradient-checkpointing", o->checkpointing, "auto, on or off")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads per rank (0 = libtorch default)");
  cmd->add_flag("!--no-progress", o->progress, "No progress bar");
  cmd->add_flag("--generate-responses", o->generate_responses,
                "Teacher writes responses for prompt-only data");
  cmd->add_option("--responses-output", o->responses_output,
                  "JSONL for generated responses (default <output>/responses.jsonl)");
  cmd->add_option("--response-max-tokens", o->response_max_tokens, "Tokens per response")
      ->capture_default_str();
  cmd->add_option("--response-temperature", o->response_temperature, "Sampling temperature")
      ->capture_default_str();
  cmd->add_option("--response-top-p", o->response_top_p, "Nucleus sampling mass")
      ->capture_default_str();
  cmd->callback([o] {
    const DistillResult r = run_distill(*o);
    std::printf(
        "{\"steps\": %lld, \"initial_held_out_kl\": %.6g, \"final_held_out_kl\": %.6g, "
        "\"initial_top1\": %.6g, \"final_top1\": %.6g, \"seconds\": %.1f}\n",
        static_cast<long long>(r.steps), r.initial_held_out_kl, r.final_held_out_kl, r.initial_top1,
        r.final_top1, r.seconds);
  });
}

}  // namespace swiftkv::cli
