// Shared server state; see server_context.h.
#include "server/server_context.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "server/api_error.h"

namespace swiftkv::server {
namespace {

ServerOptions checked(ServerOptions options) {
  if (options.served_model_names.empty()) {
    throw Error("the server needs at least one served model name");
  }
  return options;
}

}  // namespace

ServerContext::ServerContext(ServerOptions options)
    : options_(checked(std::move(options))),
      metrics_(std::make_shared<ServerMetrics>(options_.served_model_names.front())),
      id_rng_(std::random_device{}()) {}

void ServerContext::attach(const ModelBinding& binding) {
  SWIFTKV_CHECK(
      binding.engine != nullptr && binding.tokenizer != nullptr && binding.max_model_len > 0,
      "incomplete model binding");
  SWIFTKV_CHECK(state() == ServerState::kLoading, "attach() after start-up");
  const std::optional<std::string>& source =
      options_.chat_template ? options_.chat_template : binding.tokenizer->chat_template();
  if (source && !source->empty()) {
    chat_template_ = std::make_unique<ChatTemplate>(*source);
  }
  binding_ = binding;
  const int64_t tokenizer_vocab = binding.tokenizer->vocab_size();
  binding_.vocab_size =
      binding.vocab_size > 0 ? std::min(binding.vocab_size, tokenizer_vocab) : tokenizer_vocab;
  attached_.store(true, std::memory_order_release);
  set_state(ServerState::kReady);
}

const ModelBinding& ServerContext::require_ready() const {
  switch (state()) {
    case ServerState::kLoading:
      throw unavailable("the model is loading", "model_loading");
    case ServerState::kDraining:
    case ServerState::kStopped:
      throw unavailable("the server is shutting down", "server_draining");
    case ServerState::kReady:
      break;
  }
  if (binding_.engine->stats().dead) {
    throw unavailable("the engine has failed", "engine_dead");
  }
  return binding_;
}

const ModelBinding* ServerContext::binding() const {
  return attached_.load(std::memory_order_acquire) ? &binding_ : nullptr;
}

void ServerContext::check_model(const std::optional<std::string>& model) const {
  if (!model) {
    return;
  }
  for (const std::string& name : options_.served_model_names) {
    if (*model == name) {
      return;
    }
  }
  throw model_not_found(*model);
}

std::string ServerContext::make_id(const char* prefix) {
  uint64_t a = 0;
  uint64_t b = 0;
  {
    const std::lock_guard lock(id_mutex_);
    a = id_rng_();
    b = id_rng_();
  }
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%s%016llx%08llx", prefix,
                static_cast<unsigned long long>(a), static_cast<unsigned long long>(b >> 32));
  return buffer;
}

void ServerContext::begin_generation() {
  const std::lock_guard lock(idle_mutex_);
  ++num_generations_;
}

void ServerContext::end_generation() {
  {
    const std::lock_guard lock(idle_mutex_);
    --num_generations_;
  }
  idle_cv_.notify_all();
}

int64_t ServerContext::num_generations() const {
  const std::lock_guard lock(idle_mutex_);
  return num_generations_;
}

bool ServerContext::wait_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(idle_mutex_);
  return idle_cv_.wait_until(lock, deadline, [&] { return num_generations_ == 0; });
}

}  // namespace swiftkv::server
