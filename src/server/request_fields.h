// Typed readers for the fields of a JSON request body, with OpenAI-style 400 errors that name
// the field.
//
// Every getter returns nullopt when the key is absent or null (OpenAI clients send null for
// "not set"), the value when it has the right type, and throws ApiError 400 with
// param = key otherwise. Integers written as floats with an integral value (10.0) are
// accepted, as pydantic does; booleans are never numbers and numbers never booleans.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace swiftkv::server::fields {

using nlohmann::json;

// Throws 400 unless `body` is an object.
void expect_object(const json& body);

std::optional<int64_t> get_int(const json& body, std::string_view key);
std::optional<double> get_number(const json& body, std::string_view key);
std::optional<bool> get_bool(const json& body, std::string_view key);
std::optional<std::string> get_string(const json& body, std::string_view key);
// A string or a list of strings (like `stop`).
std::optional<std::vector<std::string>> get_string_or_list(const json& body, std::string_view key);
// A list of integers in int32 range.
std::optional<std::vector<int32_t>> get_int_list(const json& body, std::string_view key);
// An object (or nullptr when absent / null).
const json* get_object(const json& body, std::string_view key);
// A list (or nullptr when absent / null).
const json* get_array(const json& body, std::string_view key);

// Range checks that throw 400 "`key` must be ..." naming the field.
void check_min(std::string_view key, double value, double min);
void check_range(std::string_view key, double value, double min, double max);

}  // namespace swiftkv::server::fields
