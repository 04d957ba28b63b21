// In-process server over the real engine; see model_server.h.
#include "server/model_server.h"

#include "model/test_models.h"

namespace swiftkv::testing {
namespace {

struct SharedModel {
  std::unique_ptr<LlamaModel> model = load(stories260k_dir(), SwiftKVMode::kOn);
  Tokenizer tokenizer = Tokenizer::load(stories260k_dir());
};

const SharedModel& shared_model() {
  static const SharedModel shared;
  return shared;
}

}  // namespace

EngineConfig test_engine_config() {
  EngineConfig config;
  config.block_size = 16;
  config.num_blocks = 1024;
  config.max_model_len = 512;
  config.max_num_seqs = 64;
  config.max_queued_requests = 256;
  return config;
}

ModelServer::ModelServer(EngineConfig config,
                         const std::function<void(server::ServerOptions&)>& customize) {
  const SharedModel& shared = shared_model();
  pool_ = std::make_unique<ThreadPool>(2);
  ops::Context ctx;
  ctx.backend = ops::Backend::kCpu;
  ctx.pool = pool_.get();
  engine_ = std::make_unique<Engine>(*shared.model, shared.tokenizer, ctx, config);
  client_ = server::make_engine_client(*engine_);
  server::ServerOptions options;
  options.port = 0;
  options.served_model_names = {"stories260K"};
  options.model_root = stories260k_dir();
  options.max_http_threads = 256;
  if (customize) {
    customize(options);
  }
  server_ = std::make_unique<server::ApiServer>(options);
  server_->start();
  server_->attach({.engine = client_.get(),
                   .tokenizer = &shared.tokenizer,
                   .max_model_len = engine_->config().max_model_len,
                   .vocab_size = shared.model->config().vocab_size});
}

ModelServer::~ModelServer() {
  server_->stop();
  engine_->shutdown(std::chrono::milliseconds(0));
}

const Tokenizer& ModelServer::tokenizer() const { return shared_model().tokenizer; }

}  // namespace swiftkv::testing
