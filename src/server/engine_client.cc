// EngineClient over swiftkv::Engine; see engine_client.h. Kept in its own file so that code
// linking only the HTTP layer (tests with a fake engine) does not pull in the engine.
#include "server/engine_client.h"

#include <utility>

namespace swiftkv::server {
namespace {

class EngineForwarder final : public EngineClient {
 public:
  explicit EngineForwarder(Engine& engine) : engine_(engine) {}

  void add_request(Request request, OutputCallback on_output) override {
    engine_.add_request(std::move(request), std::move(on_output));
  }
  void abort(const std::string& request_id) override { engine_.abort(request_id); }
  void shutdown(std::chrono::milliseconds timeout) override { engine_.shutdown(timeout); }
  EngineStats stats() const override { return engine_.stats(); }

 private:
  Engine& engine_;
};

}  // namespace

std::unique_ptr<EngineClient> make_engine_client(Engine& engine) {
  return std::make_unique<EngineForwarder>(engine);
}

}  // namespace swiftkv::server
