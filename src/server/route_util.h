// Helpers every route uses: the JSON body, JSON responses, and the error boundary.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <vector>

namespace swiftkv::server {

// The request body as a JSON object; throws ApiError 400 on malformed JSON or a non-object.
nlohmann::json parse_json_body(const httplib::Request& req);

// Throws 400 naming `field` when an id is outside [0, vocab_size).
void check_token_ids(const std::vector<int32_t>& ids, int64_t vocab_size, const char* field);

void send_json(httplib::Response& res, int status, const nlohmann::json& body);

// Runs `handler`, turning every exception into an OpenAI error response: ApiError keeps its
// status, QueueFullError is 429, EngineUnavailableError 503, other swiftkv::Error 400, anything
// else 500 (logged). Never throws.
void run_guarded(httplib::Response& res, const std::function<void()>& handler);

}  // namespace swiftkv::server
