// The `swiftkv` binary: subcommand registration and the error boundary. Each subcommand lives
// in its own file; this file only wires them and turns exceptions into a message + exit code.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"SwiftKV: fast LLM inference with SwiftKV models"};
  app.require_subcommand(1);
  swiftkv::cli::register_generate(app);
  swiftkv::cli::register_convert(app);
  swiftkv::cli::register_bench(app);
  swiftkv::cli::register_serve(app);
  swiftkv::cli::register_train_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const swiftkv::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
