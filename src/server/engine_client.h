// The server's view of the serving engine: the subset of swiftkv::Engine (engine/engine.h) the
// HTTP layer calls, as an interface so the HTTP layer can be tested against a fake engine.
//
// Contract (same as Engine): thread-safe; add_request() validates and enqueues or throws
// Error (bad request) / QueueFullError (queue full); the callback receives RequestOutput deltas
// in order on the engine thread, the last with status != kRunning, and must be quick; abort()
// ends a live request with a final kAbort delta (no-op when unknown or finished); shutdown()
// stops taking requests, waits up to `timeout` for live ones, then aborts the rest.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "engine/engine.h"

namespace swiftkv::server {

class EngineClient {
 public:
  using OutputCallback = Engine::OutputCallback;

  virtual ~EngineClient() = default;
  virtual void add_request(Request request, OutputCallback on_output) = 0;
  virtual void abort(const std::string& request_id) = 0;
  virtual void shutdown(std::chrono::milliseconds timeout) = 0;
  virtual EngineStats stats() const = 0;
};

// Forwards to a real Engine (which must outlive the returned client).
std::unique_ptr<EngineClient> make_engine_client(Engine& engine);

}  // namespace swiftkv::server
