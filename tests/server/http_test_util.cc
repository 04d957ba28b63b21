// Server test HTTP helpers; see http_test_util.h.
#include "server/http_test_util.h"

#include <chrono>
#include <sstream>
#include <thread>

#include "server/bench/sse_parser.h"

namespace swiftkv::testing {
namespace {

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  c.set_connection_timeout(5, 0);
  return c;
}

HttpReply reply_of(const httplib::Result& result) {
  HttpReply reply;
  if (!result) {
    return reply;
  }
  reply.status = result->status;
  reply.body = result->body;
  reply.headers = result->headers;
  reply.json = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  return reply;
}

void collect(StreamReply& reply, const nlohmann::json& event) {
  if (event.contains("error")) {
    reply.error = event["error"];
  }
  if (event.contains("usage") && event["usage"].is_object()) {
    reply.usage = event["usage"];
  }
  if (!event.contains("choices")) {
    return;
  }
  for (const nlohmann::json& choice : event["choices"]) {
    const size_t index = choice.at("index").get<size_t>();
    if (reply.text.size() <= index) {
      reply.text.resize(index + 1);
      reply.finish_reason.resize(index + 1);
    }
    if (choice.contains("text")) {
      reply.text[index] += choice["text"].get<std::string>();
    } else if (choice.contains("delta") && choice["delta"].contains("content")) {
      reply.text[index] += choice["delta"]["content"].get<std::string>();
    }
    if (!choice["finish_reason"].is_null()) {
      reply.finish_reason[index] = choice["finish_reason"].get<std::string>();
    }
  }
}

}  // namespace

HttpReply http_get(int port, const std::string& path, const httplib::Headers& headers) {
  httplib::Client c = client(port);
  return reply_of(c.Get(path, headers));
}

HttpReply http_post(int port, const std::string& path, const std::string& body,
                    const httplib::Headers& headers) {
  httplib::Client c = client(port);
  return reply_of(c.Post(path, headers, body, "application/json"));
}

HttpReply http_post(int port, const std::string& path, const nlohmann::json& body,
                    const httplib::Headers& headers) {
  return http_post(port, path, body.dump(), headers);
}

StreamReply http_stream(int port, const std::string& path, const nlohmann::json& body,
                        const std::function<bool(const nlohmann::json&)>& on_event) {
  StreamReply reply;
  bool keep_going = true;
  bench::SseParser parser([&](const std::string& data) {
    if (!keep_going) {
      return;
    }
    if (data == "[DONE]") {
      reply.done = true;
      return;
    }
    const nlohmann::json event = nlohmann::json::parse(data, nullptr, false);
    reply.events.push_back(event);
    collect(reply, event);
    if (on_event && !on_event(event)) {
      keep_going = false;
    }
  });
  httplib::Client c = client(port);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    reply.raw.append(data, size);
    parser.feed(std::string_view(data, size));
    return keep_going;
  };
  const httplib::Result result = c.send(req);
  parser.finish();
  if (result) {
    reply.status = result->status;
  } else if (!keep_going) {
    reply.status = 200;  // we hung up
  }
  return reply;
}

double metric_value(int port, const std::string& series) {
  const HttpReply reply = http_get(port, "/metrics");
  std::istringstream lines(reply.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return -1.0;
}

bool eventually(const std::function<bool()>& condition, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace swiftkv::testing
