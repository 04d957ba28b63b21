// Route helpers; see route_util.h.
#include "server/route_util.h"

#include "core/logging.h"
#include "engine/engine.h"
#include "server/api_error.h"
#include "server/request_fields.h"
#include "server/sse.h"

namespace swiftkv::server {

nlohmann::json parse_json_body(const httplib::Request& req) {
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::parse_error& e) {
    throw invalid_request(str_cat("the request body is not valid JSON: ", e.what()));
  }
  fields::expect_object(body);
  return body;
}

void check_token_ids(const std::vector<int32_t>& ids, int64_t vocab_size, const char* field) {
  for (const int32_t id : ids) {
    if (id < 0 || id >= vocab_size) {
      throw invalid_request(str_cat("'", field, "' contains token id ", id,
                                    ", outside the vocabulary [0, ", vocab_size, ")"),
                            field);
    }
  }
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(dump_json(body), kJsonContentType);
}

void run_guarded(httplib::Response& res, const std::function<void()>& handler) {
  try {
    try {
      handler();
    } catch (const ApiError& e) {
      if (e.status() == 429) {
        res.set_header("Retry-After", "1");
      }
      send_json(res, e.status(), e.to_json());
    } catch (const QueueFullError& e) {
      res.set_header("Retry-After", "1");
      send_json(res, 429, ApiError(429, "rate_limit_error", e.what(), {}, "queue_full").to_json());
    } catch (const EngineUnavailableError& e) {
      send_json(res, 503, unavailable(e.what(), "engine_unavailable").to_json());
    } catch (const Error& e) {
      send_json(res, 400, invalid_request(e.what()).to_json());
    } catch (const std::exception& e) {
      log_warning("internal error in a request handler: ", e.what());
      send_json(res, 500,
                ApiError(500, "internal_error", str_cat("internal error: ", e.what())).to_json());
    } catch (...) {
      log_warning("unknown exception in a request handler");
      send_json(res, 500, ApiError(500, "internal_error", "internal error").to_json());
    }
  } catch (...) {  // building the error response failed (out of memory): plain text
    res.status = 500;
    res.body = "internal error";
  }
}

}  // namespace swiftkv::server
