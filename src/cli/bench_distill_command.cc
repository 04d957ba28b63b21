// `swiftkv bench distill`: distillation training throughput on a random-weight model
// (train/distill_bench.h). Flag parsing and output only.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/mapped_file.h"
#include "train/distill_bench.h"

namespace swiftkv::cli {

void register_bench_distill(CLI::App& bench) {
  auto o = std::make_shared<DistillBenchOptions>();
  auto output = std::make_shared<std::string>();
  CLI::App* cmd = bench.add_subcommand(
      "distill", "Distillation training throughput on a random-weight model (no checkpoint)");
  cmd->add_option("--model", o->model, "random:<shape> (llama-100m, llama-3.1-8b, ...)")
      ->capture_default_str();
  cmd->add_option("--swiftkv-layers", o->swiftkv_layers, "SwiftKV layers L - l")
      ->capture_default_str();
  cmd->add_option("--group-size", o->group_size, "AcrossKV group size G")->capture_default_str();
  cmd->add_option("--seq-len", o->seq_len, "Tokens per sequence")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "Sequences per step (global, over all ranks)")
      ->capture_default_str();
  cmd->add_option("--nproc", o->nproc, "Data-parallel ranks (rank r on cuda:r, or the CPU)")
      ->capture_default_str();
  cmd->add_option("--steps", o->steps, "Timed steps")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed steps before them")->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--precision", o->precision, "auto, f32, bf16 or f64")->capture_default_str();
  cmd->add_option("--gradient-checkpointing", o->checkpointing, "auto, on or off")
      ->capture_default_str();
  cmd->add_option("--attention", o->attention,
                  "fused (scaled_dot_product_attention on CUDA with libtorch >= 2) or eager")
      ->check(CLI::IsMember({"fused", "eager"}))
      ->capture_default_str();
  cmd->add_option("--lr", o->learning_rate, "AdamW learning rate")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the weights and tokens")->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads per rank (0 = libtorch default)");
  cmd->add_option("--output", *output, "Also write the JSON result to this file");
  cmd->callback([o, output] {
    const DistillBenchResult r = run_distill_bench(*o);
    const std::string json = r.to_json();
    std::printf("%s\n%s\n", r.summary().c_str(), json.c_str());
    if (!output->empty()) {
      write_file(*output, json + "\n");
    }
  });
}

}  // namespace swiftkv::cli
