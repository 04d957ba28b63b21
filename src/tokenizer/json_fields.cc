// JSON field helpers; see json_fields.h.
#include "tokenizer/json_fields.h"

#include "core/error.h"

namespace swiftkv::json_fields {

bool has(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) return false;
  const auto it = obj.find(key);
  return it != obj.end() && !it->is_null();
}

void expect_object(const nlohmann::json& value, std::string_view where) {
  if (!value.is_object()) {
    throw Error(str_cat(where, ": expected a JSON object, got ", value.type_name()));
  }
}

const nlohmann::json& require(const nlohmann::json& obj, std::string_view key,
                              std::string_view where) {
  expect_object(obj, where);
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) throw Error(str_cat(where, ": missing field '", key, "'"));
  return *it;
}

std::string require_string(const nlohmann::json& obj, std::string_view key,
                           std::string_view where) {
  const nlohmann::json& value = require(obj, key, where);
  if (!value.is_string()) {
    throw Error(str_cat(where, ": field '", key, "' must be a string, got ", value.type_name()));
  }
  return value.get<std::string>();
}

bool get_bool(const nlohmann::json& obj, std::string_view key, bool fallback,
              std::string_view where) {
  if (!has(obj, key)) return fallback;
  const nlohmann::json& value = obj.find(key).value();
  if (!value.is_boolean()) {
    throw Error(str_cat(where, ": field '", key, "' must be a boolean, got ", value.type_name()));
  }
  return value.get<bool>();
}

}  // namespace swiftkv::json_fields
