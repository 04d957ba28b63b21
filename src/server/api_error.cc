// OpenAI-shaped errors; see api_error.h.
#include "server/api_error.h"

#include <utility>

namespace swiftkv::server {

ApiError::ApiError(int status, std::string type, const std::string& message, std::string param,
                   std::string code)
    : Error(message),
      status_(status),
      type_(std::move(type)),
      param_(std::move(param)),
      code_(std::move(code)) {}

nlohmann::json ApiError::to_json() const {
  nlohmann::json error = {
      {"message", what()}, {"type", type_}, {"param", nullptr}, {"code", nullptr}};
  if (!param_.empty()) {
    error["param"] = param_;
  }
  if (!code_.empty()) {
    error["code"] = code_;
  }
  return {{"error", std::move(error)}};
}

ApiError invalid_request(const std::string& message, const std::string& param) {
  return {400, "invalid_request_error", message, param};
}

ApiError model_not_found(const std::string& model) {
  return {404, "invalid_request_error", str_cat("The model `", model, "` does not exist."), "model",
          "model_not_found"};
}

ApiError unavailable(const std::string& message, const std::string& code) {
  return {503, "service_unavailable_error", message, {}, code};
}

}  // namespace swiftkv::server
