// Chat-template values; see value.h.
#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace swiftkv::jinja {
namespace {

template <typename Json>
Value value_from_json(const Json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::none();
    case nlohmann::json::value_t::boolean:
      return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const auto u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value(j.template get<double>());
    case nlohmann::json::value_t::string:
      return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      ListData items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(value_from_json(item));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      DictData dict;
      for (const auto& [key, item] : j.items()) dict.items.emplace_back(key, value_from_json(item));
      return Value::dict(std::move(dict));
    }
    default:
      throw Error(str_cat("chat template: unsupported JSON value of type ", j.type_name()));
  }
}

// Python json string escaping with ensure_ascii=False.
void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// Python repr() of a str: single quotes unless the text has ' and no ".
void append_repr_string(std::string& out, std::string_view s) {
  const bool use_double =
      s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos;
  const char quote = use_double ? '"' : '\'';
  out.push_back(quote);
  for (const char c : s) {
    if (c == quote || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x",
                    static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  out.push_back(quote);
}

void append_json(std::string& out, const Value& v, int indent, bool sort_keys, int depth) {
  const auto newline = [&](int level) {
    out.push_back('\n');
    out.append(static_cast<size_t>(indent) * level, ' ');
  };
  switch (v.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      out += "null";
      return;
    case ValueKind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case ValueKind::kInt:
      out += std::to_string(v.as_int());
      return;
    case ValueKind::kFloat: {
      const double f = v.as_number();
      if (std::isnan(f)) {
        out += "NaN";
      } else if (std::isinf(f)) {
        out += f > 0 ? "Infinity" : "-Infinity";
      } else {
        out += format_float(f);
      }
      return;
    }
    case ValueKind::kString:
      append_json_string(out, v.as_string());
      return;
    case ValueKind::kList: {
      const ListData& items = v.as_list();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out.push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += indent >= 0 ? "," : ", ";
        if (indent >= 0) newline(depth + 1);
        append_json(out, items[i], indent, sort_keys, depth + 1);
      }
      if (indent >= 0) newline(depth);
      out.push_back(']');
      return;
    }
    case ValueKind::kDict: {
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& item : v.as_dict().items) items.push_back(&item);
      if (sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](const auto* a, const auto* b) { return a->first < b->first; });
      }
      if (items.empty()) {
        out += "{}";
        return;
      }
      out.push_back('{');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += indent >= 0 ? "," : ", ";
        if (indent >= 0) newline(depth + 1);
        append_json_string(out, items[i]->first);
        out += ": ";
        append_json(out, items[i]->second, indent, sort_keys, depth + 1);
      }
      if (indent >= 0) newline(depth);
      out.push_back('}');
      return;
    }
    case ValueKind::kFunction:
      throw Error(
          str_cat("chat template: cannot serialize function ", v.as_function().name, " to JSON"));
  }
}

}  // namespace

Value Value::list(ListData items) {
  Value v;
  v.data_ = std::make_shared<ListData>(std::move(items));
  return v;
}

Value Value::dict(DictData data) {
  Value v;
  v.data_ = std::make_shared<DictData>(std::move(data));
  return v;
}

Value Value::function(std::string name, std::function<Value(CallArgs&)> call) {
  Value v;
  v.data_ = std::make_shared<Function>(Function{std::move(name), std::move(call)});
  return v;
}

Value Value::from_json(const nlohmann::json& j) { return value_from_json(j); }
Value Value::from_json(const nlohmann::ordered_json& j) { return value_from_json(j); }

double Value::as_number() const {
  if (is_int()) return static_cast<double>(as_int());
  if (is_bool()) return as_bool() ? 1.0 : 0.0;
  return std::get<double>(data_);
}

const Value* Value::find(std::string_view key) const {
  if (!is_dict()) return nullptr;
  for (const auto& [k, v] : as_dict().items) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Value::set(std::string_view key, Value value) const {
  for (auto& [k, v] : as_dict().items) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  as_dict().items.emplace_back(std::string(key), std::move(value));
}

bool Value::truthy() const {
  switch (kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return false;
    case ValueKind::kBool:
      return as_bool();
    case ValueKind::kInt:
      return as_int() != 0;
    case ValueKind::kFloat:
      return as_number() != 0.0;
    case ValueKind::kString:
      return !as_string().empty();
    case ValueKind::kList:
      return !as_list().empty();
    case ValueKind::kDict:
      return !as_dict().items.empty();
    case ValueKind::kFunction:
      return true;
  }
  return false;
}

std::string Value::to_string() const {
  switch (kind()) {
    case ValueKind::kUndefined:
      return "";
    case ValueKind::kString:
      return as_string();
    default:
      return repr();
  }
}

std::string Value::repr() const {
  switch (kind()) {
    case ValueKind::kUndefined:
      return "";
    case ValueKind::kNone:
      return "None";
    case ValueKind::kBool:
      return as_bool() ? "True" : "False";
    case ValueKind::kInt:
      return std::to_string(as_int());
    case ValueKind::kFloat:
      return format_float(as_number());
    case ValueKind::kString: {
      std::string out;
      append_repr_string(out, as_string());
      return out;
    }
    case ValueKind::kList: {
      std::string out = "[";
      const ListData& items = as_list();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        out += items[i].repr();
      }
      return out + "]";
    }
    case ValueKind::kDict: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : as_dict().items) {
        if (!first) out += ", ";
        first = false;
        append_repr_string(out, k);
        out += ": " + v.repr();
      }
      return out + "}";
    }
    case ValueKind::kFunction:
      return "<function " + as_function().name + ">";
  }
  return "";
}

std::string Value::to_json(int indent, bool sort_keys) const {
  std::string out;
  append_json(out, *this, indent, sort_keys, 0);
  return out;
}

std::string Value::type_name() const {
  static constexpr const char* kNames[] = {"undefined", "NoneType", "bool", "int",     "float",
                                           "str",       "list",     "dict", "function"};
  return kNames[static_cast<int>(kind())];
}

std::string format_float(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, then Python's repr layout: fixed for 1e-4 <= |f| < 1e16.
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  const std::string sci(buf, result.ptr);
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (const char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  std::string out;
  if (negative) out.push_back('-');
  if (exponent >= -4 && exponent < 16) {
    const int point = exponent + 1;  // digits before the decimal point
    if (point <= 0) {
      out.append("0.");
      out.append(static_cast<size_t>(-point), '0');
      out.append(digits);
    } else if (static_cast<size_t>(point) >= digits.size()) {
      out.append(digits);
      out.append(static_cast<size_t>(point) - digits.size(), '0');
      out.append(".0");
    } else {
      out.append(digits, 0, static_cast<size_t>(point));
      out.push_back('.');
      out.append(digits, static_cast<size_t>(point));
    }
    return out;
  }
  out.push_back(digits[0]);
  if (digits.size() > 1) {
    out.push_back('.');
    out.append(digits, 1);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  out.append(exp_buf);
  return out;
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() || a.is_bool()) {
    if (!(b.is_number() || b.is_bool())) return false;
    if (a.is_float() || b.is_float()) return a.as_number() == b.as_number();
    const int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    const int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x == y;
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return true;
    case ValueKind::kString:
      return a.as_string() == b.as_string();
    case ValueKind::kList: {
      const ListData& x = a.as_list();
      const ListData& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case ValueKind::kDict: {
      const auto& x = a.as_dict().items;
      if (x.size() != b.as_dict().items.size()) return false;
      for (const auto& [k, v] : x) {
        const Value* other = b.find(k);
        if (other == nullptr || !equals(v, *other)) return false;
      }
      return true;
    }
    case ValueKind::kFunction:
      return &a.as_function() == &b.as_function();
    default:
      return false;
  }
}

bool less_than(const Value& a, const Value& b) {
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    if (a.is_float() || b.is_float()) return a.as_number() < b.as_number();
    const int64_t x = a.is_bool() ? a.as_bool() : a.as_int();
    const int64_t y = b.is_bool() ? b.as_bool() : b.as_int();
    return x < y;
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // = code point order
  if (a.is_list() && b.is_list()) {
    const ListData& x = a.as_list();
    const ListData& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (less_than(x[i], y[i])) return true;
      if (less_than(y[i], x[i])) return false;
    }
    return x.size() < y.size();
  }
  throw Error(str_cat("'<' not supported between '", a.type_name(), "' and '", b.type_name(), "'"));
}

}  // namespace swiftkv::jinja
