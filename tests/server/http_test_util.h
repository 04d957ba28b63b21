// HTTP client helpers for the server tests: plain requests, SSE streams (optionally hanging up
// after a number of events), and reading values out of /metrics. Loopback only.
#pragma once

#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace swiftkv::testing {

struct HttpReply {
  int status = 0;  // 0: no response (connection error)
  std::string body;
  nlohmann::json json;  // the parsed body (discarded when not JSON)
  httplib::Headers headers;
};

HttpReply http_get(int port, const std::string& path, const httplib::Headers& headers = {});
HttpReply http_post(int port, const std::string& path, const std::string& body,
                    const httplib::Headers& headers = {});
HttpReply http_post(int port, const std::string& path, const nlohmann::json& body,
                    const httplib::Headers& headers = {});

struct StreamReply {
  int status = 0;
  std::vector<nlohmann::json> events;  // every data payload but [DONE]
  bool done = false;                   // [DONE] seen
  std::string raw;                     // the whole body
  // Per choice index: the concatenated completion text / chat delta content, finish reason.
  std::vector<std::string> text;
  std::vector<std::string> finish_reason;
  nlohmann::json usage;  // from the usage chunk, or null
  nlohmann::json error;  // from an error event, or null
};

// Streams `body` (which should have "stream": true). `on_event` sees each parsed event and
// returns false to hang up (the connection is closed at once).
StreamReply http_stream(int port, const std::string& path, const nlohmann::json& body,
                        const std::function<bool(const nlohmann::json&)>& on_event = {});

// The value of the series `series` (metric name with its labels exactly as exposed, e.g.
// `swiftkv:num_requests_running{model_name="m"}`) in /metrics; -1 when absent.
double metric_value(int port, const std::string& series);

// Polls `condition` every 10 ms until it holds or `timeout_ms` passes.
bool eventually(const std::function<bool()>& condition, int timeout_ms = 5000);

}  // namespace swiftkv::testing
