// Builtin helpers; see builtin_support.h.
#include "tokenizer/jinja/builtin_support.h"

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace swiftkv::jinja {
namespace {

bool char_matches(std::string_view ch, const std::optional<std::string>& chars) {
  if (chars) return chars->find(ch) != std::string::npos;
  size_t pos = 0;
  return utf8::sequence_length(ch, 0) == ch.size() && is_python_space(utf8::decode_at(ch, pos));
}

}  // namespace

// Keyword argument `name`, or nullopt.
std::optional<Value> kwarg(const CallArgs& args, std::string_view name) {
  for (const auto& [key, value] : args.keyword) {
    if (key == name) return value;
  }
  return std::nullopt;
}

// Positional argument `index`, else keyword `name`, else nullopt.
std::optional<Value> arg(const CallArgs& args, size_t index, std::string_view name) {
  if (index < args.positional.size()) return args.positional[index];
  for (const auto& [key, value] : args.keyword) {
    if (key == name) return value;
  }
  return std::nullopt;
}

const std::string& require_string(const Value& v, std::string_view what) {
  if (!v.is_string()) throw Error(str_cat(what, " expects a string, got ", v.type_name()));
  return v.as_string();
}

int64_t require_int(const Value& v, std::string_view what) {
  if (v.is_int()) return v.as_int();
  if (v.is_bool()) return v.as_bool() ? 1 : 0;
  throw Error(str_cat(what, " expects an integer, got ", v.type_name()));
}

// Python's str.isspace() code points.
bool is_python_space(char32_t c) {
  return (c >= 9 && c <= 13) || (c >= 28 && c <= 32) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

std::vector<std::string_view> characters(std::string_view s) {
  std::vector<std::string_view> chars;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t n = utf8::sequence_length(s, pos);
    if (n == 0) n = 1;
    chars.push_back(s.substr(pos, n));
    pos += n;
  }
  return chars;
}

// Python str.strip/lstrip/rstrip(chars=None).
std::string strip(const std::string& s, bool left, bool right,
                  const std::optional<std::string>& chars) {
  const std::vector<std::string_view> c = characters(s);
  size_t begin = 0;
  size_t end = c.size();
  if (left) {
    while (begin < end && char_matches(c[begin], chars)) ++begin;
  }
  if (right) {
    while (end > begin && char_matches(c[end - 1], chars)) --end;
  }
  std::string out;
  for (size_t i = begin; i < end; ++i) out.append(c[i]);
  return out;
}

std::string ascii_upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string ascii_lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string title(const std::string& s) {
  std::string out = s;
  bool previous_is_letter = false;
  for (char& c : out) {
    if (is_ascii_alpha(c)) {
      c = previous_is_letter ? ascii_lower(std::string(1, c))[0]
                             : ascii_upper(std::string(1, c))[0];
      previous_is_letter = true;
    } else {
      previous_is_letter = false;
    }
  }
  return out;
}

std::string capitalize(const std::string& s) {
  std::string out = ascii_lower(s);
  if (!out.empty()) out[0] = ascii_upper(out.substr(0, 1))[0];
  return out;
}

std::string replace(const std::string& s, const std::string& from, const std::string& to,
                    int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` around every character
    const auto chars = characters(s);
    int64_t done = 0;
    for (const auto ch : chars) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out.append(ch);
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  size_t last = 0;
  int64_t done = 0;
  for (size_t pos = s.find(from); pos != std::string::npos && (count < 0 || done < count);
       pos = s.find(from, last)) {
    out.append(s, last, pos - last).append(to);
    last = pos + from.size();
    ++done;
  }
  out.append(s, last);
  return out;
}

// Python str.split(sep=None, maxsplit=-1).
Value split(const std::string& s, const std::optional<Value>& sep, int64_t maxsplit) {
  ListData parts;
  if (!sep || sep->is_none()) {
    const auto chars = characters(s);
    std::string current;
    bool in_word = false;
    for (size_t i = 0; i < chars.size(); ++i) {
      if (char_matches(chars[i], std::nullopt)) {
        if (in_word) {
          parts.emplace_back(current);
          current.clear();
          in_word = false;
        }
        continue;
      }
      if (!in_word && maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        std::string rest;
        for (size_t k = i; k < chars.size(); ++k) rest.append(chars[k]);
        parts.emplace_back(strip(rest, false, true, std::nullopt));
        return Value::list(std::move(parts));
      }
      in_word = true;
      current.append(chars[i]);
    }
    if (in_word) parts.emplace_back(current);
    return Value::list(std::move(parts));
  }
  const std::string& separator = require_string(*sep, "split");
  if (separator.empty()) throw Error("split: empty separator");
  size_t last = 0;
  for (size_t pos = s.find(separator);
       pos != std::string::npos && (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit);
       pos = s.find(separator, last)) {
    parts.emplace_back(s.substr(last, pos - last));
    last = pos + separator.size();
  }
  parts.emplace_back(s.substr(last));
  return Value::list(std::move(parts));
}

}  // namespace swiftkv::jinja
