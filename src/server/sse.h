// Server-sent events as the OpenAI streaming API writes them: one `data: <json>\n\n` frame per
// chunk, `data: [DONE]\n\n` at the end. Also the JSON serialisation every response uses.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace swiftkv::server {

inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";
inline constexpr const char* kSseContentType = "text/event-stream";
inline constexpr const char* kJsonContentType = "application/json";

// Compact JSON; invalid UTF-8 in strings is replaced by U+FFFD instead of throwing.
std::string dump_json(const nlohmann::json& value);
// "data: " + dump_json(value) + "\n\n"
std::string sse_event(const nlohmann::json& value);

}  // namespace swiftkv::server
