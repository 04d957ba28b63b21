// Typed request-field readers; see request_fields.h.
#include "server/request_fields.h"

#include <cmath>
#include <limits>

#include "server/api_error.h"

namespace swiftkv::server::fields {
namespace {

const json* find(const json& body, std::string_view key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    return nullptr;
  }
  return &*it;
}

[[noreturn]] void wrong_type(std::string_view key, std::string_view expected, const json& value) {
  throw invalid_request(
      str_cat("'", key, "' must be ", expected, ", got ", value.type_name(), " ", value.dump()),
      std::string(key));
}

std::optional<int64_t> as_int(const json& value) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned() &&
        value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return value.get<int64_t>();
  }
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

}  // namespace

void expect_object(const json& body) {
  if (!body.is_object()) {
    throw invalid_request(
        str_cat("the request body must be a JSON object, got ", body.type_name()));
  }
}

std::optional<int64_t> get_int(const json& body, std::string_view key) {
  const json* value = find(body, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  const std::optional<int64_t> i = as_int(*value);
  if (!i) {
    wrong_type(key, "an integer", *value);
  }
  return i;
}

std::optional<double> get_number(const json& body, std::string_view key) {
  const json* value = find(body, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_number()) {
    wrong_type(key, "a number", *value);
  }
  const double d = value->get<double>();
  if (!std::isfinite(d)) {
    wrong_type(key, "a finite number", *value);
  }
  return d;
}

std::optional<bool> get_bool(const json& body, std::string_view key) {
  const json* value = find(body, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_boolean()) {
    wrong_type(key, "a boolean", *value);
  }
  return value->get<bool>();
}

std::optional<std::string> get_string(const json& body, std::string_view key) {
  const json* value = find(body, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    wrong_type(key, "a string", *value);
  }
  return value->get<std::string>();
}

std::optional<std::vector<std::string>> get_string_or_list(const json& body, std::string_view key) {
  const json* value = find(body, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (value->is_string()) {
    return std::vector<std::string>{value->get<std::string>()};
  }
  if (!value->is_array()) {
    wrong_type(key, "a string or a list of strings", *value);
  }
  std::vector<std::string> out;
  for (const json& item : *value) {
    if (!item.is_string()) {
      wrong_type(key, "a string or a list of strings", *value);
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::optional<std::vector<int32_t>> get_int_list(const json& body, std::string_view key) {
  const json* value = find(body, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_array()) {
    wrong_type(key, "a list of integers", *value);
  }
  std::vector<int32_t> out;
  out.reserve(value->size());
  for (const json& item : *value) {
    const std::optional<int64_t> i = as_int(item);
    if (!i || *i < std::numeric_limits<int32_t>::min() ||
        *i > std::numeric_limits<int32_t>::max()) {
      wrong_type(key, "a list of integers", *value);
    }
    out.push_back(static_cast<int32_t>(*i));
  }
  return out;
}

const json* get_object(const json& body, std::string_view key) {
  const json* value = find(body, key);
  if (value != nullptr && !value->is_object()) {
    wrong_type(key, "an object", *value);
  }
  return value;
}

const json* get_array(const json& body, std::string_view key) {
  const json* value = find(body, key);
  if (value != nullptr && !value->is_array()) {
    wrong_type(key, "a list", *value);
  }
  return value;
}

void check_min(std::string_view key, double value, double min) {
  if (value < min) {
    throw invalid_request(str_cat("'", key, "' must be >= ", min, ", got ", value),
                          std::string(key));
  }
}

void check_range(std::string_view key, double value, double min, double max) {
  if (value < min || value > max) {
    throw invalid_request(str_cat("'", key, "' must be in [", min, ", ", max, "], got ", value),
                          std::string(key));
  }
}

}  // namespace swiftkv::server::fields
