// In-process server over a fake engine; see fake_server.h.
#include "server/fake_server.h"

#include "tokenizer/llama2c_converter.h"

namespace swiftkv::testing {

const Tokenizer& stories_tokenizer() {
  static const Tokenizer tokenizer =
      Tokenizer::from_json(llama2c_tokenizer_to_hf_json(std::string(SWIFTKV_SHARED_DIR) +
                                                        "/models/stories260K/tok512.bin")
                               .dump(),
                           llama2c_tokenizer_config_json().dump());
  return tokenizer;
}

FakeServer::FakeServer(FakeEngineOptions engine_options,
                       const std::function<void(server::ServerOptions&)>& customize,
                       int64_t max_model_len, bool attach_now)
    : max_model_len_(max_model_len) {
  const Tokenizer& tokenizer = stories_tokenizer();
  engine_ = std::make_unique<FakeEngine>(
      tokenizer, tokenizer.encode(" the cat sat on the mat and", false), engine_options);
  server::ServerOptions options;
  options.port = 0;
  options.served_model_names = {model_name_};
  options.model_root = "/models/fake";
  options.chat_template = kTestChatTemplate;
  options.max_http_threads = 128;
  if (customize) {
    customize(options);
  }
  server_ = std::make_unique<server::ApiServer>(options);
  server_->start();
  if (attach_now) {
    attach();
  }
}

FakeServer::~FakeServer() {
  server_->stop();
  engine_->shutdown(std::chrono::milliseconds(0));
}

void FakeServer::attach() {
  server_->attach({.engine = engine_.get(),
                   .tokenizer = &stories_tokenizer(),
                   .max_model_len = max_model_len_,
                   .vocab_size = stories_tokenizer().vocab_size()});
}

}  // namespace swiftkv::testing
