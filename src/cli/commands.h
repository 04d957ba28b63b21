// Registration of the `swiftkv` subcommands. Each adds its options to `app` and a callback that
// runs the command (throwing swiftkv::Error for user errors).
#pragma once

#include <CLI/CLI.hpp>

namespace swiftkv::cli {

void register_generate(CLI::App& app);
void register_convert(CLI::App& app);
void register_bench(CLI::App& app);
void register_bench_throughput(CLI::App& bench);
void register_bench_serve(CLI::App& bench);
void register_bench_gpu(CLI::App& bench);
void register_serve(CLI::App& app);
void register_train_commands(CLI::App& app);  // distill, eval: only with SWIFTKV_TRAIN

}  // namespace swiftkv::cli
