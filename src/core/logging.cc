#include "core/logging.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace swiftkv {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};  // process-wide setting, written once by the CLI
std::mutex g_write_mutex;

const char* level_tag(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log_line(LogLevel level, const std::string& message) {
  if (level < g_level.load()) {
    return;
  }
  const std::lock_guard lock(g_write_mutex);
  std::fprintf(stderr, "[swiftkv %s] %s\n", level_tag(level), message.c_str());
}

}  // namespace swiftkv
