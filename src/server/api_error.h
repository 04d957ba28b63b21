// OpenAI-shaped HTTP errors: {"error": {"message", "type", "param", "code"}} with a status.
//
// Route handlers throw ApiError (or swiftkv::Error, which becomes a 400) and the one error
// boundary in routes (server_context.h: run_guarded) turns it into the JSON body. Statuses used:
// 400 invalid request (the message names the field), 401 bad API key, 404 unknown model or
// route, 408 request timeout, 429 queue full, 500 internal error, 503 loading / draining / dead.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace swiftkv::server {

class ApiError : public Error {
 public:
  ApiError(int status, std::string type, const std::string& message, std::string param = {},
           std::string code = {});

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }  // empty: null
  const std::string& code() const { return code_; }    // empty: null

  // {"error": {...}}
  nlohmann::json to_json() const;

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string code_;
};

// 400 invalid_request_error naming `param` (the request field, may be empty).
ApiError invalid_request(const std::string& message, const std::string& param = {});
// 404 for a model id that is not served.
ApiError model_not_found(const std::string& model);
// 503 service_unavailable with a reason code ("model_loading", "server_draining",
// "engine_dead").
ApiError unavailable(const std::string& message, const std::string& code);

}  // namespace swiftkv::server
