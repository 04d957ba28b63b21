// Typed, validated access to the fields of a JSON object (config.json and the like).
//
// Every accessor checks the JSON type and throws Error naming the source and the field:
// "config.json: field 'hidden_size' must be an integer, got string". Nested objects use a
// prefix ("rope_scaling.") so messages name the full path. Holds a reference to the JSON
// object, which must outlive the reader.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace swiftkv {

// Whether a JSON null counts as "absent" (transformers fields whose default is None) or is a
// type error.
enum class Nullable { kNo, kYes };

// "string", "array", ... or "number 1.5": how a value is named in type errors.
std::string describe_json(const nlohmann::json& value);

class FieldReader {
 public:
  FieldReader(const nlohmann::json& object, std::string source, std::string prefix = "")
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  // The value of `key`, or nullptr when absent (or null and `nullable`).
  const nlohmann::json* find(const char* key, Nullable nullable = Nullable::kNo) const;
  // Error("<source>: field '<prefix><key>' <message>").
  Error error(const char* key, const std::string& message) const;

  // An integer; an integral float (8192.0) is accepted, as Python would accept it.
  std::optional<int64_t> optional_integer(const char* key, Nullable nullable) const;
  int64_t integer(const char* key, int64_t fallback, Nullable nullable = Nullable::kNo) const;
  int64_t required_integer(const char* key) const;
  double number(const char* key, double fallback) const;
  double required_number(const char* key) const;
  bool boolean(const char* key, bool fallback) const;
  std::optional<std::string> optional_string(const char* key, Nullable nullable) const;
  // An int, a list of ints, or null (no token: empty); absent gives `fallback`.
  std::vector<int64_t> token_ids(const char* key, std::vector<int64_t> fallback) const;

 private:
  const nlohmann::json& object_;
  std::string source_;
  std::string prefix_;
};

}  // namespace swiftkv
