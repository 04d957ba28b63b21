// The OpenAI-compatible HTTP server (DESIGN.md §5): cpp-httplib, the route groups of
// routes.h, API-key check, JSON errors for unknown routes, and the lifecycle.
//
// Usage: construct, start() (listens at once: /health says 503 while the model loads),
// attach() the loaded model, ... shutdown() on SIGTERM. shutdown() is the graceful path the
// signal handler uses: new requests get 503, in-flight ones finish (the engine aborts what is
// left after `timeout`, and those streams end with an error event), then the listener stops.
// start() ignores SIGPIPE process-wide (a client that hangs up must not kill the server).
// Methods are not meant to be called concurrently with each other, except shutdown() and
// stop() from another thread while the server runs.
#pragma once

#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "server/server_context.h"

namespace swiftkv::server {

class ApiServer {
 public:
  explicit ApiServer(ServerOptions options);
  ~ApiServer();  // stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds host:port (port 0: an ephemeral one) and serves on a background thread. Throws
  // Error when the address cannot be bound.
  void start();
  int port() const { return port_; }
  ServerContext& context() { return context_; }

  // Serves `binding` from now on (the engine, tokenizer must outlive the server).
  void attach(const ModelBinding& binding);

  // Graceful shutdown; blocks until done. Idempotent.
  void shutdown(std::chrono::milliseconds timeout);
  // Stops listening now (open streams end). Idempotent.
  void stop();

 private:
  // httplib::Server with access to its listening socket, to raise the listen backlog that
  // cpp-httplib 0.11 fixes at 5 (a burst of connections would otherwise overflow the accept
  // queue, and the kernel retries the dropped handshakes only after 0.2-1 s).
  class HttpServer : public httplib::Server {
   public:
    int listen_fd() const { return svr_sock_; }
  };

  void install_handlers();

  ServerContext context_;
  HttpServer http_;
  std::thread listener_;
  std::mutex lifecycle_mutex_;
  int port_ = -1;
};

}  // namespace swiftkv::server
