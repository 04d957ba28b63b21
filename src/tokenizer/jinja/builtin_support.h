// Helpers shared by the chat-template builtins (builtins.cc, filters.cc) and the evaluator:
// call-argument access and Python str operations (code points, Python whitespace, ASCII-only
// case mapping). Pure functions; errors are Error without a line number.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace swiftkv::jinja {

// Keyword argument `name`, or nullopt.
std::optional<Value> kwarg(const CallArgs& args, std::string_view name);
// Positional argument `index`, else keyword `name`, else nullopt.
std::optional<Value> arg(const CallArgs& args, size_t index, std::string_view name);
// `v` as a string / integer, or Error "<what> expects ...".
const std::string& require_string(const Value& v, std::string_view what);
int64_t require_int(const Value& v, std::string_view what);

// Python str.isspace() for one code point.
bool is_python_space(char32_t c);
// The code points of `s` as UTF-8 slices (an ill-formed byte is one slice).
std::vector<std::string_view> characters(std::string_view s);
// str.strip / lstrip / rstrip (chars = nullopt: Python whitespace).
std::string strip(const std::string& s, bool left, bool right,
                  const std::optional<std::string>& chars);
std::string ascii_upper(std::string s);
std::string ascii_lower(std::string s);
// str.title / str.capitalize (ASCII letters).
std::string title(const std::string& s);
std::string capitalize(const std::string& s);
// str.replace(old, new, count); count < 0: all.
std::string replace(const std::string& s, const std::string& from, const std::string& to,
                    int64_t count);
// str.split(sep=None, maxsplit=-1) as a list value.
Value split(const std::string& s, const std::optional<Value>& sep, int64_t maxsplit);

}  // namespace swiftkv::jinja
