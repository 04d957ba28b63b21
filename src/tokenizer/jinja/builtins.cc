// Chat-template tests, methods, globals and iteration; see builtins.h. Filters are in filters.cc.
#include "tokenizer/jinja/builtins.h"

#include <algorithm>
#include <ctime>

#include "core/error.h"
#include "tokenizer/jinja/builtin_support.h"

namespace swiftkv::jinja {

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      throw Error(str_cat("'in <string>' requires a string operand, got ", item.type_name()));
    }
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return item.is_string() && container.find(item.as_string()) != nullptr;
  if (container.is_list()) {
    const ListData& items = container.as_list();
    return std::any_of(items.begin(), items.end(), [&](const Value& v) { return equals(v, item); });
  }
  if (container.is_undefined()) return false;
  throw Error(str_cat("argument of type '", container.type_name(), "' is not iterable"));
}

ListData iterate(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return {};
    case ValueKind::kList:
      return value.as_list();
    case ValueKind::kDict: {
      ListData keys;
      for (const auto& [k, v] : value.as_dict().items) keys.emplace_back(k);
      return keys;
    }
    case ValueKind::kString: {
      ListData chars;
      for (const auto ch : characters(value.as_string())) chars.emplace_back(ch);
      return chars;
    }
    default:
      throw Error(str_cat("'", value.type_name(), "' object is not iterable"));
  }
}

bool apply_test(const std::string& name, const Value& input, CallArgs& args) {
  const auto operand = [&]() {
    const auto v = arg(args, 0, "other");
    if (!v) throw Error(str_cat("test '", name, "' needs an argument"));
    return *v;
  };
  if (name == "defined") return !input.is_undefined();
  if (name == "undefined") return input.is_undefined();
  if (name == "none") return input.is_none();
  if (name == "boolean") return input.is_bool();
  if (name == "true") return input.is_bool() && input.as_bool();
  if (name == "false") return input.is_bool() && !input.as_bool();
  if (name == "integer") return input.is_int();
  if (name == "float") return input.is_float();
  if (name == "number") return input.is_number() || input.is_bool();
  if (name == "string") return input.is_string();
  if (name == "mapping") return input.is_dict();
  if (name == "iterable") {
    return input.is_list() || input.is_dict() || input.is_string() || input.is_undefined();
  }
  if (name == "sequence") return input.is_list() || input.is_dict() || input.is_string();
  if (name == "callable") return input.is_function();
  if (name == "sameas") {
    const Value other = operand();
    if (input.kind() != other.kind()) return false;
    if (input.is_list()) return &input.as_list() == &other.as_list();
    if (input.is_dict()) return &input.as_dict() == &other.as_dict();
    return equals(input, other);
  }
  if (name == "eq" || name == "equalto" || name == "==") return equals(input, operand());
  if (name == "ne" || name == "!=") return !equals(input, operand());
  if (name == "lt" || name == "lessthan" || name == "<") return less_than(input, operand());
  if (name == "gt" || name == "greaterthan" || name == ">") return less_than(operand(), input);
  if (name == "le" || name == "<=") return !less_than(operand(), input);
  if (name == "ge" || name == ">=") return !less_than(input, operand());
  if (name == "in") return contains(operand(), input);
  if (name == "odd" || name == "even") {
    const int64_t i = require_int(input, name);
    return (i % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const int64_t d = require_int(operand(), "divisibleby");
    if (d == 0) throw Error("divisibleby 0");
    return require_int(input, "divisibleby") % d == 0;
  }
  if (name == "lower")
    return input.is_string() && ascii_lower(input.as_string()) == input.as_string();
  if (name == "upper")
    return input.is_string() && ascii_upper(input.as_string()) == input.as_string();
  throw Error(str_cat("unknown test '", name, "'"));
}

std::optional<Value> find_method(const Value& object, const std::string& name) {
  if (object.is_string()) {
    const std::string& s = object.as_string();
    const auto method = [&](auto fn) { return Value::function("str." + name, fn); };
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
      return method([s, name](CallArgs& args) {
        const auto chars = arg(args, 0, "chars");
        const std::optional<std::string> set =
            chars && chars->is_string() ? std::optional(chars->as_string()) : std::nullopt;
        return Value(strip(s, name != "rstrip", name != "lstrip", set));
      });
    }
    if (name == "startswith" || name == "endswith") {
      return method([s, name](CallArgs& args) {
        const auto prefix = arg(args, 0, "prefix");
        if (!prefix) throw Error(str_cat(name, " needs an argument"));
        const ListData options = prefix->is_list() ? prefix->as_list() : ListData{*prefix};
        for (const Value& option : options) {
          const std::string& p = require_string(option, name);
          if (name == "startswith" ? s.starts_with(p) : s.ends_with(p)) return Value(true);
        }
        return Value(false);
      });
    }
    if (name == "split") {
      return method([s](CallArgs& args) {
        const auto maxsplit = arg(args, 1, "maxsplit");
        return split(s, arg(args, 0, "sep"), maxsplit ? require_int(*maxsplit, "split") : -1);
      });
    }
    if (name == "upper") return method([s](CallArgs&) { return Value(ascii_upper(s)); });
    if (name == "lower") return method([s](CallArgs&) { return Value(ascii_lower(s)); });
    if (name == "title") return method([s](CallArgs&) { return Value(title(s)); });
    if (name == "capitalize") return method([s](CallArgs&) { return Value(capitalize(s)); });
    if (name == "replace") {
      return method([s](CallArgs& args) {
        const auto from = arg(args, 0, "old");
        const auto to = arg(args, 1, "new");
        if (!from || !to) throw Error("str.replace needs two arguments");
        const auto count = arg(args, 2, "count");
        return Value(replace(s, require_string(*from, "replace"), require_string(*to, "replace"),
                             count ? require_int(*count, "replace") : -1));
      });
    }
    if (name == "find") {
      return method([s](CallArgs& args) {
        const auto sub = arg(args, 0, "sub");
        if (!sub) throw Error("str.find needs an argument");
        const size_t pos = s.find(require_string(*sub, "find"));
        if (pos == std::string::npos) return Value(static_cast<int64_t>(-1));
        return Value(static_cast<int64_t>(characters(std::string_view(s).substr(0, pos)).size()));
      });
    }
    if (name == "join") {
      return method([s](CallArgs& args) {
        const auto items = arg(args, 0, "iterable");
        if (!items) throw Error("str.join needs an argument");
        std::string out;
        bool first = true;
        for (const Value& item : iterate(*items)) {
          if (!first) out += s;
          first = false;
          out += require_string(item, "str.join item");
        }
        return Value(out);
      });
    }
    return std::nullopt;
  }
  if (object.is_dict() && !object.as_dict().is_namespace) {
    const Value& dict = object;
    if (name == "items") {
      return Value::function("dict.items",
                             [dict](CallArgs& args) { return apply_filter("items", dict, args); });
    }
    if (name == "keys") {
      return Value::function("dict.keys", [dict](CallArgs&) { return Value::list(iterate(dict)); });
    }
    if (name == "values") {
      return Value::function("dict.values", [dict](CallArgs&) {
        ListData values;
        for (const auto& [k, v] : dict.as_dict().items) values.push_back(v);
        return Value::list(std::move(values));
      });
    }
    if (name == "get") {
      return Value::function("dict.get", [dict](CallArgs& args) {
        const auto key = arg(args, 0, "key");
        if (!key) throw Error("dict.get needs a key");
        const Value* found = dict.find(key->to_string());
        return found ? *found : arg(args, 1, "default").value_or(Value::none());
      });
    }
  }
  return std::nullopt;
}

std::unordered_map<std::string, Value> builtin_globals() {
  std::unordered_map<std::string, Value> globals;
  globals["range"] = Value::function("range", [](CallArgs& args) {
    int64_t start = 0;
    int64_t stop = 0;
    int64_t step = 1;
    if (args.positional.size() == 1) {
      stop = require_int(args.positional[0], "range");
    } else if (args.positional.size() >= 2) {
      start = require_int(args.positional[0], "range");
      stop = require_int(args.positional[1], "range");
      if (args.positional.size() >= 3) step = require_int(args.positional[2], "range");
    } else {
      throw Error("range needs 1 to 3 arguments");
    }
    if (step == 0) throw Error("range step must not be zero");
    ListData out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.size() > 10'000'000) throw Error("range too large");
      out.emplace_back(i);
    }
    return Value::list(std::move(out));
  });
  const auto make_dict = [](CallArgs& args, bool is_namespace) {
    DictData data;
    data.is_namespace = is_namespace;
    Value result = Value::dict(std::move(data));
    for (const Value& positional : args.positional) {
      if (!positional.is_dict())
        throw Error("namespace()/dict() positional argument must be a dict");
      for (const auto& [k, v] : positional.as_dict().items) result.set(k, v);
    }
    for (const auto& [k, v] : args.keyword) result.set(k, v);
    return result;
  };
  globals["namespace"] =
      Value::function("namespace", [make_dict](CallArgs& args) { return make_dict(args, true); });
  globals["dict"] =
      Value::function("dict", [make_dict](CallArgs& args) { return make_dict(args, false); });
  globals["raise_exception"] = Value::function("raise_exception", [](CallArgs& args) -> Value {
    throw Error(str_cat("raised: ", arg(args, 0, "message").value_or(Value("")).to_string()));
  });
  globals["strftime_now"] = Value::function("strftime_now", [](CallArgs& args) {
    const auto format = arg(args, 0, "format");
    if (!format) throw Error("strftime_now needs a format");
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char buf[256];
    const size_t n =
        std::strftime(buf, sizeof(buf), require_string(*format, "strftime_now").c_str(), &local);
    return Value(std::string(buf, n));
  });
  return globals;
}

}  // namespace swiftkv::jinja
