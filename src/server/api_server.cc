// The HTTP server and its lifecycle; see api_server.h.
#include "server/api_server.h"

#include <sys/socket.h>

#include <csignal>
#include <string>

#include "core/logging.h"
#include "server/api_error.h"
#include "server/http_task_queue.h"
#include "server/route_util.h"
#include "server/routes.h"

namespace swiftkv::server {
namespace {

constexpr int kListenBacklog = 4096;  // the kernel caps it at net.core.somaxconn
constexpr size_t kMaxBodyBytes = size_t{64} << 20;
constexpr time_t kSocketTimeoutSeconds = 30;           // read / write timeouts per socket operation
constexpr auto kFlushGrace = std::chrono::seconds(5);  // after the engine finished everything

// Routes that are reported by name in the http_requests metric; others are "other".
const char* const kKnownRoutes[] = {"/v1/completions", "/v1/chat/completions", "/v1/models",
                                    "/tokenize",       "/detokenize",          "/health",
                                    "/metrics"};

bool is_open_route(const std::string& path) { return path == "/health" || path == "/metrics"; }

// Compares in time independent of where the strings differ. `key` is not empty.
bool same_secret(const std::string& given, const std::string& key) {
  size_t diff = given.size() ^ key.size();
  for (size_t i = 0; i < given.size(); ++i) {
    diff |= static_cast<size_t>(static_cast<unsigned char>(given[i] ^ key[i % key.size()]));
  }
  return diff == 0;
}

std::string route_label(const std::string& path) {
  for (const char* route : kKnownRoutes) {
    if (path == route) {
      return route;
    }
  }
  return "other";
}

// The OpenAI-shaped error for a status httplib set itself.
ApiError httplib_error(const httplib::Request& req, int status) {
  std::string message = str_cat("HTTP ", status);
  std::string code;
  if (status == 404) {
    message = str_cat("Not found: ", req.method, " ", req.path);
    code = "not_found";
  } else if (status == 413) {
    message = str_cat("the request body is larger than ", kMaxBodyBytes, " bytes");
  } else if (status == 400) {
    message = "malformed HTTP request";
  }
  const char* type = status >= 500 ? "internal_error" : "invalid_request_error";
  return {status, type, message, {}, code};
}

}  // namespace

ApiServer::ApiServer(ServerOptions options) : context_(std::move(options)) { install_handlers(); }

ApiServer::~ApiServer() { stop(); }

void ApiServer::install_handlers() {
  const size_t max_threads = context_.options().max_http_threads;
  http_.new_task_queue = [max_threads] { return new ElasticTaskQueue(max_threads); };
  http_.set_tcp_nodelay(true);
  http_.set_payload_max_length(kMaxBodyBytes);
  http_.set_read_timeout(kSocketTimeoutSeconds, 0);
  http_.set_write_timeout(kSocketTimeoutSeconds, 0);

  http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const std::string& key = context_.options().api_key;
    if (key.empty() || is_open_route(req.path)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    const bool ok = header.rfind(prefix, 0) == 0 && same_secret(header.substr(prefix.size()), key);
    if (ok) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    send_json(res, 401,
              ApiError(401, "authentication_error", "Incorrect or missing API key.", {},
                       "invalid_api_key")
                  .to_json());
    return httplib::Server::HandlerResponse::Handled;
  });

  // Errors httplib produces itself (unknown route, malformed request, body too large) get the
  // OpenAI shape too; responses that already have a body are left alone. Runs outside
  // httplib's exception guard, like the logger below, so neither may throw.
  http_.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty() || res.status == 499) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        run_guarded(res, [&] { throw httplib_error(req, res.status); });
        return httplib::Server::HandlerResponse::Handled;
      }));
  http_.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
        run_guarded(res, [&] { std::rethrow_exception(error); });
      });
  http_.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    try {
      context_.metrics().observe_http(route_label(req.path), res.status);
      log_debug(req.method, " ", req.path, " -> ", res.status);
    } catch (const std::exception& e) {
      log_warning("http logger: ", e.what());
    }
  });

  register_completion_routes(http_, context_);
  register_chat_routes(http_, context_);
  register_model_routes(http_, context_);
  register_metrics_routes(http_, context_);
}

void ApiServer::start() {
  const std::lock_guard lock(lifecycle_mutex_);
  SWIFTKV_CHECK(!listener_.joinable(), "the server is already started");
  std::signal(SIGPIPE, SIG_IGN);
  const ServerOptions& options = context_.options();
  if (options.port == 0) {
    port_ = http_.bind_to_any_port(options.host);
  } else if (http_.bind_to_port(options.host, options.port)) {
    port_ = options.port;
  }
  if (port_ <= 0) {
    throw Error(str_cat("cannot listen on ", options.host, ":", options.port,
                        " (address in use or not available)"));
  }
  if (::listen(http_.listen_fd(), kListenBacklog) != 0) {  // a second listen() resizes it
    log_warning("could not raise the listen backlog");
  }
  listener_ = std::thread([this] {
    if (!http_.listen_after_bind()) {
      log_warning("the HTTP listener stopped with an error");
    }
  });
  log_info("listening on http://", options.host, ":", port_);
}

void ApiServer::attach(const ModelBinding& binding) {
  context_.attach(binding);
  log_info("serving model '", context_.model_name(), "' (max_model_len ", binding.max_model_len,
           ")");
}

void ApiServer::shutdown(std::chrono::milliseconds timeout) {
  const ServerState state = context_.state();
  if (state == ServerState::kDraining || state == ServerState::kStopped) {
    return;
  }
  context_.set_state(ServerState::kDraining);
  const auto start = std::chrono::steady_clock::now();
  log_info("shutting down: refusing new requests, draining ", context_.num_generations(),
           " in flight (up to ", static_cast<double>(timeout.count()) / 1000.0, " s)");
  if (const ModelBinding* model = context_.binding()) {
    model->engine->shutdown(timeout);  // waits for live requests, then aborts the rest
  }
  if (!context_.wait_idle(std::chrono::steady_clock::now() + kFlushGrace)) {
    log_warning("shutdown: ", context_.num_generations(), " responses still open; closing them");
  }
  stop();
  log_info("shutdown complete in ",
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), " s");
}

void ApiServer::stop() {
  const std::lock_guard lock(lifecycle_mutex_);
  context_.set_state(ServerState::kStopped);  // ends non-streaming waits (generation_runner)
  if (listener_.joinable()) {
    http_.stop();
    listener_.join();
  }
}

}  // namespace swiftkv::server
