// Values of the chat-template (Jinja subset) interpreter: undefined, none, bool, int, float,
// string, list, dict, function, with Python semantics where templates can observe them.
//
// Lists and dicts are shared by reference like Python objects (copying a Value copies the
// handle). Dicts keep insertion order and have string keys (JSON objects). A dict flagged as a
// namespace (Jinja `namespace()`) accepts `{% set ns.attr = ... %}`. `to_string` is Python
// str(); `to_json` is Python json.dumps(ensure_ascii=False, indent, sort_keys), the `tojson`
// filter transformers installs. Not thread-safe to mutate; rendering builds its own values.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace swiftkv::jinja {

class Value;

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

struct Function {
  std::string name;
  std::function<Value(CallArgs&)> call;
};

struct DictData {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;
};

using ListData = std::vector<Value>;

enum class ValueKind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kFunction };

class Value {
 public:
  struct Undefined {};
  struct None {};

  Value() : data_(Undefined{}) {}
  static Value none() { return Value(None{}); }
  Value(bool b) : data_(b) {}                           // NOLINT(google-explicit-constructor)
  Value(int64_t i) : data_(i) {}                        // NOLINT(google-explicit-constructor)
  Value(int i) : data_(static_cast<int64_t>(i)) {}      // NOLINT(google-explicit-constructor)
  Value(double f) : data_(f) {}                         // NOLINT(google-explicit-constructor)
  Value(std::string s) : data_(std::move(s)) {}         // NOLINT(google-explicit-constructor)
  Value(const char* s) : data_(std::string(s)) {}       // NOLINT(google-explicit-constructor)
  Value(std::string_view s) : data_(std::string(s)) {}  // NOLINT(google-explicit-constructor)
  static Value list(ListData items = {});
  static Value dict(DictData data = {});
  static Value function(std::string name, std::function<Value(CallArgs&)> call);
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);

  ValueKind kind() const { return static_cast<ValueKind>(data_.index()); }
  bool is_undefined() const { return kind() == ValueKind::kUndefined; }
  bool is_none() const { return kind() == ValueKind::kNone; }
  bool is_bool() const { return kind() == ValueKind::kBool; }
  bool is_int() const { return kind() == ValueKind::kInt; }
  bool is_float() const { return kind() == ValueKind::kFloat; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return kind() == ValueKind::kString; }
  bool is_list() const { return kind() == ValueKind::kList; }
  bool is_dict() const { return kind() == ValueKind::kDict; }
  bool is_function() const { return kind() == ValueKind::kFunction; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const { return std::get<int64_t>(data_); }
  // Int, float or bool as a double.
  double as_number() const;
  const std::string& as_string() const { return std::get<std::string>(data_); }
  ListData& as_list() const { return *std::get<std::shared_ptr<ListData>>(data_); }
  DictData& as_dict() const { return *std::get<std::shared_ptr<DictData>>(data_); }
  const Function& as_function() const { return *std::get<std::shared_ptr<Function>>(data_); }

  // Dict lookup; nullptr when absent (or not a dict).
  const Value* find(std::string_view key) const;
  // Dict insert-or-assign.
  void set(std::string_view key, Value value) const;

  // Python truthiness (undefined is false).
  bool truthy() const;
  // Python str() (undefined -> "").
  std::string to_string() const;
  // Python repr() (strings quoted; used inside lists/dicts).
  std::string repr() const;
  // Python json.dumps(ensure_ascii=False, indent=indent (< 0: none), sort_keys).
  std::string to_json(int indent = -1, bool sort_keys = false) const;
  // Python type name for error messages ("str", "int", "dict", "undefined", ...).
  std::string type_name() const;

 private:
  explicit Value(Undefined u) : data_(u) {}
  explicit Value(None n) : data_(n) {}
  std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<ListData>,
               std::shared_ptr<DictData>, std::shared_ptr<Function>>
      data_;
};

// Python ==.
bool equals(const Value& a, const Value& b);
// Python <, for numbers, strings and lists; throws Error otherwise.
bool less_than(const Value& a, const Value& b);
// Python repr() of a float ("1.0", "0.1", "1e-05", "1e+16").
std::string format_float(double f);

}  // namespace swiftkv::jinja
