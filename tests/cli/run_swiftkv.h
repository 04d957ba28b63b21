// Runs the built swiftkv binary as a child process (the CLI tests): exit status and the output.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace swiftkv::cli_test {

inline const std::string kSwiftkv = std::string(SWIFTKV_BINARY_DIR) + "/src/cli/swiftkv";

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout + stderr
};

// `swiftkv ARGS` through the shell (ARGS may quote), stdout and stderr together.
inline RunResult run(const std::string& args) {
  const std::string command = kSwiftkv + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  RunResult result;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    result.output.append(buffer, n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace swiftkv::cli_test
