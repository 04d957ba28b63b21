// An in-process ApiServer on 127.0.0.1 (ephemeral port) over a FakeEngine and the stories260K
// tokenizer (converted in memory from ../shared; no model is loaded).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "server/api_server.h"
#include "server/fake_engine.h"

namespace swiftkv::testing {

// The stories260K tokenizer (tok512), built once.
const Tokenizer& stories_tokenizer();

// A minimal chat template: "role: content\n" per message, then "assistant:".
inline constexpr const char* kTestChatTemplate =
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}";

class FakeServer {
 public:
  // `customize` may change the server options (api_key, request_timeout, ...) before start.
  explicit FakeServer(FakeEngineOptions engine_options = {},
                      const std::function<void(server::ServerOptions&)>& customize = {},
                      int64_t max_model_len = 256, bool attach = true);
  ~FakeServer();

  void attach();
  int port() const { return server_->port(); }
  FakeEngine& engine() { return *engine_; }
  server::ApiServer& server() { return *server_; }
  const std::string& model() const { return model_name_; }

 private:
  std::string model_name_ = "fake-model";
  int64_t max_model_len_;
  std::unique_ptr<FakeEngine> engine_;
  std::unique_ptr<server::ApiServer> server_;
};

}  // namespace swiftkv::testing
