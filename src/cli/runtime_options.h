// Options shared by the commands that run a model: threads, backend, SwiftKV mode.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/thread_pool.h"
#include "model/llama_model.h"
#include "ops/context.h"

namespace swiftkv::cli {

struct RuntimeOptions {
  int threads = default_num_threads();
  std::string backend = "cpu";  // cpu | reference
  std::string swiftkv = "on";   // on | off | noskip
};

void add_runtime_options(CLI::App& command, RuntimeOptions& options);
SwiftKVMode parse_swiftkv_mode(const std::string& mode);

// The thread pool and op context for the chosen backend.
struct Runtime {
  std::unique_ptr<ThreadPool> pool;
  ops::Context ctx;
};
Runtime make_runtime(const RuntimeOptions& options);

}  // namespace swiftkv::cli
