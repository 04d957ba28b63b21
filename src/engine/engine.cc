// The threaded Engine (contract in engine.h): other threads only touch the queues and the
// stats snapshot under `mutex`; the engine thread owns the EngineCore and runs
//   take new requests and aborts -> core.step() -> publish stats
// until shutdown() has drained (or aborted) every request.
#include "engine/engine.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/logging.h"
#include "engine/engine_core.h"

namespace swiftkv {
namespace {

RequestOutput error_output(const std::string& id, const std::string& error) {
  RequestOutput out;
  out.request_id = id;
  out.status = FinishStatus::kError;
  out.error = error;
  return out;
}

}  // namespace

struct Engine::Impl {
  Impl(std::unique_ptr<StepModel> owned, StepModel& model, const Tokenizer& tokenizer,
       EngineConfig engine_config)
      : owned_model(std::move(owned)),
        core(model, &tokenizer, engine_config),
        config(core.config()) {
    snapshot = core.stats();
  }

  void loop();
  void run_once();
  RequestCallback wrap(const std::string& id, OutputCallback on_output);

  std::unique_ptr<StepModel> owned_model;  // the CpuStepModel of the LlamaModel constructor
  EngineCore core;                         // engine thread only (config() and validate() are const)
  EngineConfig config;                     // resolved, immutable

  mutable std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::pair<Request, OutputCallback>> pending;
  std::vector<std::string> aborts;
  std::unordered_set<std::string> live_ids;  // accepted and not finished
  bool accepting = true;
  bool stopping = false;
  std::optional<SteadyTime> drain_deadline;
  EngineStats snapshot;
  std::mutex join_mutex;  // one shutdown() joins the thread
  std::thread thread;
};

RequestCallback Engine::Impl::wrap(const std::string& id, OutputCallback on_output) {
  return [this, id, on_output = std::move(on_output)](const RequestOutput& output) {
    if (output.status != FinishStatus::kRunning) {
      const std::lock_guard lock(mutex);
      live_ids.erase(id);
    }
    on_output(output);
  };
}

void Engine::Impl::run_once() {
  const bool busy = core.has_unfinished();
  std::deque<std::pair<Request, OutputCallback>> new_requests;
  std::vector<std::string> new_aborts;
  bool past_drain_deadline = false;
  {
    std::unique_lock lock(mutex);
    wake.wait(lock, [&] { return busy || stopping || !pending.empty() || !aborts.empty(); });
    new_requests.swap(pending);
    new_aborts.swap(aborts);
    past_drain_deadline =
        drain_deadline.has_value() && std::chrono::steady_clock::now() >= *drain_deadline;
  }
  for (auto& [request, on_output] : new_requests) {
    const std::string id = request.id;
    RequestCallback callback = wrap(id, std::move(on_output));
    if (core.dead()) {
      callback(error_output(id, "the engine is dead"));
      continue;
    }
    try {
      core.add(std::move(request), callback);
    } catch (const std::exception& e) {
      callback(error_output(id, e.what()));
    }
  }
  for (const std::string& id : new_aborts) {
    core.abort(id);
  }
  if (past_drain_deadline) {
    core.abort_all(FinishStatus::kAbort, "");
  }
  core.step();
  const EngineStats stats = core.stats();
  const std::lock_guard lock(mutex);
  snapshot = stats;
}

void Engine::Impl::loop() {
  while (true) {
    try {
      run_once();
    } catch (const std::exception& e) {
      log_warning("engine thread: ", e.what());
      core.abort_all(FinishStatus::kError, str_cat("engine failure: ", e.what()));
    }
    const std::lock_guard lock(mutex);
    if (stopping && pending.empty() && !core.has_unfinished()) {
      return;
    }
  }
}

Engine::Engine(StepModel& model, const Tokenizer& tokenizer, EngineConfig config)
    : impl_(std::make_unique<Impl>(nullptr, model, tokenizer, config)) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

Engine::Engine(const LlamaModel& model, const Tokenizer& tokenizer, ops::Context ctx,
               EngineConfig config) {
  auto owned = std::make_unique<CpuStepModel>(model, ctx);
  StepModel& step_model = *owned;
  impl_ = std::make_unique<Impl>(std::move(owned), step_model, tokenizer, config);
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

Engine::~Engine() { shutdown(std::chrono::milliseconds(0)); }

void Engine::add_request(Request request, OutputCallback on_output) {
  impl_->core.validate(request);
  const std::lock_guard lock(impl_->mutex);
  if (!impl_->accepting) {
    throw EngineUnavailableError("the engine is shutting down");
  }
  if (impl_->snapshot.dead) {
    throw EngineUnavailableError("the engine is dead");
  }
  if (impl_->live_ids.contains(request.id)) {
    throw Error(str_cat("request id '", request.id, "' is already in use"));
  }
  const auto num_waiting =
      static_cast<int64_t>(impl_->pending.size()) + impl_->snapshot.num_waiting;
  if (num_waiting >= impl_->config.max_queued_requests) {
    throw QueueFullError(str_cat("the engine's queue is full (", num_waiting,
                                 " waiting requests, max_queued_requests ",
                                 impl_->config.max_queued_requests, ")"));
  }
  impl_->live_ids.insert(request.id);
  impl_->pending.emplace_back(std::move(request), std::move(on_output));
  impl_->wake.notify_one();
}

void Engine::abort(const std::string& request_id) {
  const std::lock_guard lock(impl_->mutex);
  if (impl_->live_ids.contains(request_id)) {
    impl_->aborts.push_back(request_id);
    impl_->wake.notify_one();
  }
}

void Engine::shutdown(std::chrono::milliseconds timeout) {
  {
    const std::lock_guard lock(impl_->mutex);
    impl_->accepting = false;
    if (!impl_->stopping) {
      impl_->stopping = true;
      impl_->drain_deadline = std::chrono::steady_clock::now() + timeout;
    }
    impl_->wake.notify_one();
  }
  const std::lock_guard lock(impl_->join_mutex);
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
}

EngineStats Engine::stats() const {
  const std::lock_guard lock(impl_->mutex);
  EngineStats stats = impl_->snapshot;
  stats.num_waiting += static_cast<int64_t>(impl_->pending.size());
  return stats;
}

const EngineConfig& Engine::config() const { return impl_->config; }

}  // namespace swiftkv
