// Chat-template filters; see builtins.h for the list and semantics.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "tokenizer/jinja/builtin_support.h"
#include "tokenizer/jinja/builtins.h"

namespace swiftkv::jinja {
namespace {

int64_t length(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kUndefined:
      return 0;
    case ValueKind::kString:
      return static_cast<int64_t>(characters(v.as_string()).size());
    case ValueKind::kList:
      return static_cast<int64_t>(v.as_list().size());
    case ValueKind::kDict:
      return static_cast<int64_t>(v.as_dict().items.size());
    default:
      throw Error(str_cat("object of type '", v.type_name(), "' has no len()"));
  }
}

// Attribute lookup for selectattr/map/sort/join (dotted paths like "function.name").
Value get_attribute_path(const Value& v, const std::string& path) {
  Value current = v;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (current.is_dict()) {
      const Value* found = current.find(part);
      current = found ? *found : Value();
    } else if (current.is_list() && !part.empty() &&
               std::all_of(part.begin(), part.end(), ::isdigit)) {
      const size_t index = std::stoul(part);
      current = index < current.as_list().size() ? current.as_list()[index] : Value();
    } else {
      current = Value();
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current;
}

// Arguments after the first `skip` positional ones, for select/reject/map.
CallArgs shift_args(const CallArgs& args, size_t skip) {
  CallArgs rest;
  for (size_t i = skip; i < args.positional.size(); ++i)
    rest.positional.push_back(args.positional[i]);
  rest.keyword = args.keyword;
  return rest;
}

Value select_items(const Value& input, CallArgs& args, bool keep, bool by_attribute) {
  ListData out;
  const size_t test_index = by_attribute ? 1 : 0;
  std::string attribute;
  if (by_attribute) {
    const auto a = arg(args, 0, "attribute");
    if (!a) throw Error("selectattr/rejectattr needs an attribute");
    attribute = require_string(*a, "selectattr/rejectattr attribute");
  }
  const auto test = test_index < args.positional.size() ? std::optional(args.positional[test_index])
                                                        : std::nullopt;
  CallArgs test_args = shift_args(args, test_index + 1);
  for (const Value& item : iterate(input)) {
    const Value subject = by_attribute ? get_attribute_path(item, attribute) : item;
    const bool passed = test ? apply_test(require_string(*test, "select test"), subject, test_args)
                             : subject.truthy();
    if (passed == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value to_int(const Value& v, const std::optional<Value>& fallback) {
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(static_cast<int64_t>(v.as_bool()));
  if (v.is_float()) return Value(static_cast<int64_t>(v.as_number()));
  if (v.is_string()) {
    try {
      size_t used = 0;
      const std::string s = strip(v.as_string(), true, true, std::nullopt);
      const int64_t i = std::stoll(s, &used);
      if (used == s.size()) return Value(i);
      return Value(static_cast<int64_t>(std::stod(s)));
    } catch (const std::exception&) {
    }
  }
  return fallback ? *fallback : Value(static_cast<int64_t>(0));
}

Value to_float(const Value& v, const std::optional<Value>& fallback) {
  if (v.is_number() || v.is_bool()) return Value(v.as_number());
  if (v.is_string()) {
    try {
      return Value(std::stod(v.as_string()));
    } catch (const std::exception&) {
    }
  }
  return fallback ? *fallback : Value(0.0);
}

std::string indent(const std::string& s, const Value& width, bool first, bool blank) {
  const std::string pad = width.is_string()
                              ? width.as_string()
                              : std::string(static_cast<size_t>(require_int(width, "indent")), ' ');
  std::string out;
  size_t start = 0;
  bool is_first = true;
  while (start <= s.size()) {
    const size_t nl = s.find('\n', start);
    const std::string line =
        s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if ((!is_first || first) && (blank || !line.empty())) out += pad;
    out += line;
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
    is_first = false;
  }
  return out;
}

Value sorted(const Value& input, const CallArgs& args) {
  ListData items = iterate(input);
  const bool reverse = arg(args, 0, "reverse").value_or(Value(false)).truthy();
  const bool case_sensitive = arg(args, 1, "case_sensitive").value_or(Value(false)).truthy();
  const auto attribute = arg(args, 2, "attribute");
  const auto key = [&](const Value& v) {
    Value k = attribute ? get_attribute_path(v, require_string(*attribute, "sort attribute")) : v;
    if (k.is_string() && !case_sensitive) k = Value(ascii_lower(k.as_string()));
    return k;
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    return reverse ? less_than(key(b), key(a)) : less_than(key(a), key(b));
  });
  return Value::list(std::move(items));
}

Value min_max(const Value& input, bool want_max) {
  const ListData items = iterate(input);
  if (items.empty()) return Value();
  Value best = items[0];
  for (const Value& v : items) {
    if (want_max ? less_than(best, v) : less_than(v, best)) best = v;
  }
  return best;
}

}  // namespace

Value apply_filter(const std::string& name, const Value& input, CallArgs& args) {
  if (name == "trim") {
    const auto chars = arg(args, 0, "chars");
    return Value(
        strip(input.to_string(), true, true,
              chars && chars->is_string() ? std::optional(chars->as_string()) : std::nullopt));
  }
  if (name == "length" || name == "count") return Value(length(input));
  if (name == "tojson") {
    const auto indent_arg = arg(args, 0, "indent");
    const bool sort_keys = arg(args, 2, "sort_keys").value_or(Value(false)).truthy();
    const int width = indent_arg && !indent_arg->is_none()
                          ? static_cast<int>(require_int(*indent_arg, "tojson indent"))
                          : -1;
    return Value(input.to_json(width, sort_keys));
  }
  if (name == "string") return Value(input.to_string());
  if (name == "upper") return Value(ascii_upper(input.to_string()));
  if (name == "lower") return Value(ascii_lower(input.to_string()));
  if (name == "capitalize") return Value(capitalize(input.to_string()));
  if (name == "title") return Value(title(input.to_string()));
  if (name == "default" || name == "d") {
    const Value fallback = arg(args, 0, "default_value").value_or(Value(""));
    const bool boolean = arg(args, 1, "boolean").value_or(Value(false)).truthy();
    return input.is_undefined() || (boolean && !input.truthy()) ? fallback : input;
  }
  if (name == "first" || name == "last") {
    const ListData items = iterate(input);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "join") {
    const std::string separator = arg(args, 0, "d").value_or(Value("")).to_string();
    const auto attribute = arg(args, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(input)) {
      if (!first) out += separator;
      first = false;
      out += (attribute ? get_attribute_path(item, attribute->to_string()) : item).to_string();
    }
    return Value(out);
  }
  if (name == "replace") {
    const auto from = arg(args, 0, "old");
    const auto to = arg(args, 1, "new");
    if (!from || !to) throw Error("replace needs two arguments");
    const auto count = arg(args, 2, "count");
    return Value(replace(input.to_string(), from->to_string(), to->to_string(),
                         count && !count->is_none() ? require_int(*count, "replace count") : -1));
  }
  if (name == "items") {
    if (input.is_undefined()) return Value::list();
    if (!input.is_dict()) throw Error(str_cat("items expects a dict, got ", input.type_name()));
    ListData pairs;
    for (const auto& [k, v] : input.as_dict().items) pairs.push_back(Value::list({Value(k), v}));
    return Value::list(std::move(pairs));
  }
  if (name == "list") return Value::list(iterate(input));
  if (name == "select") return select_items(input, args, true, false);
  if (name == "reject") return select_items(input, args, false, false);
  if (name == "selectattr") return select_items(input, args, true, true);
  if (name == "rejectattr") return select_items(input, args, false, true);
  if (name == "map") {
    ListData out;
    if (const auto attribute = kwarg(args, "attribute")) {
      const auto fallback = kwarg(args, "default");
      for (const Value& item : iterate(input)) {
        Value v = get_attribute_path(item, attribute->to_string());
        out.push_back(v.is_undefined() && fallback ? *fallback : v);
      }
    } else {
      const auto filter = arg(args, 0, "filter");
      if (!filter) throw Error("map needs a filter name or attribute=");
      CallArgs rest = shift_args(args, 1);
      for (const Value& item : iterate(input)) {
        out.push_back(apply_filter(require_string(*filter, "map filter"), item, rest));
      }
    }
    return Value::list(std::move(out));
  }
  if (name == "int") return to_int(input, arg(args, 0, "default"));
  if (name == "float") return to_float(input, arg(args, 0, "default"));
  if (name == "abs") {
    if (input.is_int()) return Value(input.as_int() < 0 ? -input.as_int() : input.as_int());
    if (input.is_float()) return Value(std::fabs(input.as_number()));
    throw Error(str_cat("abs expects a number, got ", input.type_name()));
  }
  if (name == "reverse") {
    if (input.is_string()) {
      auto chars = characters(input.as_string());
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out.append(*it);
      return Value(out);
    }
    ListData items = iterate(input);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  }
  if (name == "unique") {
    ListData out;
    for (const Value& item : iterate(input)) {
      if (std::none_of(out.begin(), out.end(), [&](const Value& v) { return equals(v, item); })) {
        out.push_back(item);
      }
    }
    return Value::list(std::move(out));
  }
  if (name == "sort") return sorted(input, args);
  if (name == "min" || name == "max") return min_max(input, name == "max");
  if (name == "safe") return input;
  if (name == "indent") {
    return Value(indent(input.to_string(), arg(args, 0, "width").value_or(Value(4)),
                        arg(args, 1, "first").value_or(Value(false)).truthy(),
                        arg(args, 2, "blank").value_or(Value(false)).truthy()));
  }
  throw Error(str_cat("unknown filter '", name, "'"));
}

}  // namespace swiftkv::jinja
