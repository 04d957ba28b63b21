// FieldReader (contract in json_fields.h).
#include "model/json_fields.h"

#include <cmath>
#include <limits>

namespace swiftkv {

using nlohmann::json;

std::string describe_json(const json& value) {
  if (value.is_number()) {
    return str_cat("number ", value.dump());
  }
  return value.type_name();
}

const json* FieldReader::find(const char* key, Nullable nullable) const {
  const auto it = object_.find(key);
  if (it == object_.end() || (nullable == Nullable::kYes && it->is_null())) {
    return nullptr;
  }
  return &*it;
}

Error FieldReader::error(const char* key, const std::string& message) const {
  return Error(str_cat(source_, ": field '", prefix_, key, "' ", message));
}

std::optional<int64_t> FieldReader::optional_integer(const char* key, Nullable nullable) const {
  const json* value = find(key, nullable);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_number_integer()) {
    if (value->is_number_unsigned() &&
        value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw error(key, str_cat("is out of range: ", value->dump()));
    }
    return value->get<int64_t>();
  }
  if (value->is_number_float()) {
    const double d = value->get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15) {
      return static_cast<int64_t>(d);
    }
  }
  throw error(key, str_cat("must be an integer, got ", describe_json(*value)));
}

int64_t FieldReader::integer(const char* key, int64_t fallback, Nullable nullable) const {
  return optional_integer(key, nullable).value_or(fallback);
}

int64_t FieldReader::required_integer(const char* key) const {
  const auto value = optional_integer(key, Nullable::kNo);
  if (!value) {
    throw error(key, "is required");
  }
  return *value;
}

double FieldReader::number(const char* key, double fallback) const {
  const json* value = find(key);
  if (value == nullptr) {
    return fallback;
  }
  if (!value->is_number()) {
    throw error(key, str_cat("must be a number, got ", describe_json(*value)));
  }
  return value->get<double>();
}

double FieldReader::required_number(const char* key) const {
  if (find(key) == nullptr) {
    throw error(key, "is required");
  }
  return number(key, 0.0);
}

bool FieldReader::boolean(const char* key, bool fallback) const {
  const json* value = find(key);
  if (value == nullptr) {
    return fallback;
  }
  if (!value->is_boolean()) {
    throw error(key, str_cat("must be a boolean, got ", describe_json(*value)));
  }
  return value->get<bool>();
}

std::optional<std::string> FieldReader::optional_string(const char* key, Nullable nullable) const {
  const json* value = find(key, nullable);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    throw error(key, str_cat("must be a string, got ", describe_json(*value)));
  }
  return value->get<std::string>();
}

std::vector<int64_t> FieldReader::token_ids(const char* key, std::vector<int64_t> fallback) const {
  const json* value = find(key);
  if (value == nullptr) {
    return fallback;
  }
  if (value->is_null()) {
    return {};
  }
  if (value->is_number_integer()) {
    return {value->get<int64_t>()};
  }
  if (value->is_array()) {
    std::vector<int64_t> ids;
    for (const json& id : *value) {
      if (!id.is_number_integer()) {
        throw error(key, str_cat("must hold integers, got ", describe_json(id)));
      }
      ids.push_back(id.get<int64_t>());
    }
    return ids;
  }
  throw error(
      key, str_cat("must be an integer, a list of integers or null, got ", describe_json(*value)));
}

}  // namespace swiftkv
