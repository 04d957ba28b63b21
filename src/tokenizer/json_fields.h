// Small helpers for reading tokenizer.json / tokenizer_config.json fields with errors that name
// the field. Internal to the tokenizer layer.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace swiftkv::json_fields {

// obj[key]; throws Error "<where>: missing field 'key'" when absent or null.
const nlohmann::json& require(const nlohmann::json& obj, std::string_view key,
                              std::string_view where);
// obj[key] as a string; Error when absent or not a string.
std::string require_string(const nlohmann::json& obj, std::string_view key, std::string_view where);
// obj[key] as a bool, or `fallback` when absent or null; Error when another type.
bool get_bool(const nlohmann::json& obj, std::string_view key, bool fallback,
              std::string_view where);
// True when obj has a non-null `key`.
bool has(const nlohmann::json& obj, std::string_view key);
// Throws Error "<where>: expected <what>" unless `value` is an object.
void expect_object(const nlohmann::json& value, std::string_view where);

}  // namespace swiftkv::json_fields
