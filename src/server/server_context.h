// State shared by the route handlers of the OpenAI server: options, lifecycle state, the
// engine and tokenizer once loaded, metrics, and the count of in-flight generations.
//
// Lifecycle: kLoading (only /health and /metrics answer; /health says 503) -> kReady (after
// attach()) -> kDraining (new requests get 503, in-flight ones finish) -> kStopped.
// attach() happens once; the engine, tokenizer and chat template are immutable afterwards and
// must outlive the server. Every method is thread-safe.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "server/engine_client.h"
#include "server/server_metrics.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                               // 0: an ephemeral port (see ApiServer::port())
  std::vector<std::string> served_model_names;   // the first is the id responses carry
  std::string model_root;                        // `root` in /v1/models (the model path)
  std::string api_key;                           // empty: no authentication
  std::optional<std::string> chat_template;      // overrides tokenizer_config.json's
  std::chrono::milliseconds request_timeout{0};  // 0: none
  size_t max_http_threads = 1024;                // concurrent connections served
};

enum class ServerState { kLoading, kReady, kDraining, kStopped };

// What the routes need from the loaded model.
struct ModelBinding {
  EngineClient* engine = nullptr;
  const Tokenizer* tokenizer = nullptr;
  int64_t max_model_len = 0;
  int64_t vocab_size = 0;  // token ids accepted: [0, vocab_size); 0: the tokenizer's
};

class ServerContext {
 public:
  explicit ServerContext(ServerOptions options);

  const ServerOptions& options() const { return options_; }
  const std::string& model_name() const { return options_.served_model_names.front(); }
  ServerMetrics& metrics() { return *metrics_; }
  // For engine callbacks, which may run after a request's handler has returned.
  std::shared_ptr<ServerMetrics> shared_metrics() const { return metrics_; }

  ServerState state() const { return state_.load(std::memory_order_acquire); }
  void set_state(ServerState state) { state_.store(state, std::memory_order_release); }
  // Binds the model and turns the server ready. Throws Error on a bad chat template.
  void attach(const ModelBinding& binding);
  // The binding, or throws ApiError 503 unless ready with a live engine.
  const ModelBinding& require_ready() const;
  // The binding when attached (for /health, /metrics), else null.
  const ModelBinding* binding() const;
  // The chat template to use, or null when the model has none.
  const ChatTemplate* chat_template() const { return chat_template_.get(); }

  // Throws 404 unless `model` (the request's `model` field; nullopt when absent) is served.
  void check_model(const std::optional<std::string>& model) const;

  // "<prefix><24 hex digits>", unique per server.
  std::string make_id(const char* prefix);

  // In-flight generation requests (held by GenerationSession).
  void begin_generation();
  void end_generation();
  int64_t num_generations() const;
  // Waits until no generation is in flight or `deadline` passes; true when idle.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);

 private:
  ServerOptions options_;
  std::shared_ptr<ServerMetrics> metrics_;
  std::atomic<ServerState> state_{ServerState::kLoading};
  std::atomic<bool> attached_{false};
  ModelBinding binding_;  // written once, before attached_ is set
  std::unique_ptr<ChatTemplate> chat_template_;
  std::mutex id_mutex_;
  std::mt19937_64 id_rng_;
  mutable std::mutex idle_mutex_;
  std::condition_variable idle_cv_;
  int64_t num_generations_ = 0;
};

}  // namespace swiftkv::server
