// An in-process ApiServer on 127.0.0.1 (ephemeral port) over the real serving Engine and
// stories260K (converted once per test process by model/test_models.h), 2 CPU threads.
#pragma once

#include <functional>
#include <memory>

#include "core/thread_pool.h"
#include "engine/engine.h"
#include "server/api_server.h"
#include "server/engine_client.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv::testing {

// Engine defaults for the tests: 512-token context, 1024 blocks of 16.
EngineConfig test_engine_config();

class ModelServer {
 public:
  explicit ModelServer(EngineConfig config = test_engine_config(),
                       const std::function<void(server::ServerOptions&)>& customize = {});
  ~ModelServer();

  int port() const { return server_->port(); }
  server::ApiServer& server() { return *server_; }
  Engine& engine() { return *engine_; }
  const Tokenizer& tokenizer() const;

 private:
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<server::EngineClient> client_;
  std::unique_ptr<server::ApiServer> server_;
};

}  // namespace swiftkv::testing
