// Errors and invariant checks.
//
// `Error` is thrown for user and input problems (bad config, missing tensor, malformed file,
// invalid request); it is caught only at boundaries (CLI -> message + non-zero exit, HTTP ->
// OpenAI error JSON). `SWIFTKV_CHECK` guards internal invariants; it is always on and puts the
// offending values into the message. Both carry plain std::string messages, no formatting DSL.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace swiftkv {

// A problem with input the user controls; the message names the offending file, field or value.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A broken internal invariant (a bug, not bad input).
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Concatenates anything streamable: str_cat("tensor ", name, " has ", n, " rows").
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

[[noreturn]] void throw_check_failure(const char* file, int line, const char* condition,
                                      const std::string& message);

}  // namespace swiftkv

// Always-on invariant check: SWIFTKV_CHECK(n > 0, "n=", n).
#define SWIFTKV_CHECK(condition, ...)                                  \
  do {                                                                 \
    if (!(condition)) [[unlikely]] {                                   \
      ::swiftkv::throw_check_failure(__FILE__, __LINE__, #condition,   \
                                     ::swiftkv::str_cat(__VA_ARGS__)); \
    }                                                                  \
  } while (false)
