// SSE frames and JSON output; see sse.h.
#include "server/sse.h"

namespace swiftkv::server {

std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string sse_event(const nlohmann::json& value) {
  std::string out = "data: ";
  out += dump_json(value);
  out += "\n\n";
  return out;
}

}  // namespace swiftkv::server
