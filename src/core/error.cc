#include "core/error.h"

namespace swiftkv {

void throw_check_failure(const char* file, int line, const char* condition,
                         const std::string& message) {
  std::string what = str_cat("check failed at ", file, ":", line, ": ", condition);
  if (!message.empty()) {
    what += str_cat(" (", message, ")");
  }
  throw InternalError(what);
}

}  // namespace swiftkv
