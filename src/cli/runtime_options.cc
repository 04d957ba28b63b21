#include "cli/runtime_options.h"

#include "core/error.h"

namespace swiftkv::cli {

void add_runtime_options(CLI::App& command, RuntimeOptions& options) {
  command.add_option("--threads", options.threads, "CPU threads")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  command.add_option("--backend", options.backend, "Op implementations: cpu or reference")
      ->check(CLI::IsMember({"cpu", "reference"}))
      ->capture_default_str();
  command
      .add_option("--swiftkv", options.swiftkv,
                  "SwiftKV wiring: on (prompt tokens skip later layers), noskip (debug: every "
                  "token through every layer), off (original wiring from the same checkpoint)")
      ->check(CLI::IsMember({"on", "off", "noskip"}))
      ->capture_default_str();
}

SwiftKVMode parse_swiftkv_mode(const std::string& mode) {
  if (mode == "on") {
    return SwiftKVMode::kOn;
  }
  if (mode == "off") {
    return SwiftKVMode::kOff;
  }
  if (mode == "noskip") {
    return SwiftKVMode::kNoSkip;
  }
  throw Error(str_cat("--swiftkv must be on, off or noskip, got '", mode, "'"));
}

Runtime make_runtime(const RuntimeOptions& options) {
  Runtime runtime;
  runtime.pool = std::make_unique<ThreadPool>(options.threads);
  runtime.ctx.pool = runtime.pool.get();
  runtime.ctx.backend =
      options.backend == "reference" ? ops::Backend::kReference : ops::Backend::kCpu;
  return runtime;
}

}  // namespace swiftkv::cli
