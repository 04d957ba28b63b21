// Minimal leveled logging to stderr: log_info("loaded ", n, " tensors").
// Thread-safe (one line per call). The level is set once at start-up by the CLI.
#pragma once

#include <string>

#include "core/error.h"

namespace swiftkv {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_line(LogLevel level, const std::string& message);

template <typename... Args>
void log_debug(const Args&... args) {
  if (log_level() <= LogLevel::kDebug) {
    log_line(LogLevel::kDebug, str_cat(args...));
  }
}
template <typename... Args>
void log_info(const Args&... args) {
  if (log_level() <= LogLevel::kInfo) {
    log_line(LogLevel::kInfo, str_cat(args...));
  }
}
template <typename... Args>
void log_warning(const Args&... args) {
  log_line(LogLevel::kWarning, str_cat(args...));
}

}  // namespace swiftkv
