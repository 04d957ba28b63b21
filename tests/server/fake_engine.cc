// FakeEngine; see fake_engine.h.
#include "server/fake_engine.h"

#include <algorithm>
#include <utility>

namespace swiftkv::testing {

FakeEngine::FakeEngine(const Tokenizer& tokenizer, std::vector<int32_t> cycle,
                       FakeEngineOptions options)
    : tokenizer_(tokenizer), cycle_(std::move(cycle)), options_(options) {
  thread_ = std::thread([this] { loop(); });
}

FakeEngine::~FakeEngine() { shutdown(std::chrono::milliseconds(0)); }

void FakeEngine::add_request(Request request, OutputCallback on_output) {
  if (request.prompt_ids.empty()) {
    throw Error("the prompt is empty");
  }
  request.sampling.validate(tokenizer_.vocab_size());
  const std::lock_guard lock(mutex_);
  if (!accepting_) {
    throw EngineUnavailableError("the engine is shutting down");
  }
  const auto waiting =
      std::count_if(live_.begin(), live_.end(), [](const auto& live) { return !live->running; });
  if (waiting >= options_.max_queued) {
    throw QueueFullError(str_cat(waiting, " requests waiting"));
  }
  auto live = std::make_unique<Live>();
  live->request = request;
  live->on_output = std::move(on_output);
  live->detokenizer = std::make_unique<IncrementalDetokenizer>(tokenizer_, true);
  received_.push_back(std::move(request));
  live_.push_back(std::move(live));
  cv_.notify_all();
}

void FakeEngine::abort(const std::string& request_id) {
  std::vector<Delivery> out;
  {
    const std::lock_guard lock(mutex_);
    for (auto it = live_.begin(); it != live_.end(); ++it) {
      if ((*it)->request.id == request_id) {
        finish_locked(**it, FinishStatus::kAbort, out);
        live_.erase(it);
        cv_.notify_all();
        break;
      }
    }
  }
  for (auto& [callback, output] : out) {
    callback(output);
  }
}

void FakeEngine::shutdown(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  accepting_ = false;
  paused_ = false;
  cv_.notify_all();
  cv_.wait_for(lock, timeout, [&] { return live_.empty(); });
  std::vector<Delivery> out;
  for (auto& live : live_) {
    finish_locked(*live, FinishStatus::kAbort, out);
  }
  live_.clear();
  stop_ = true;
  cv_.notify_all();
  lock.unlock();
  for (auto& [callback, output] : out) {
    callback(output);
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

EngineStats FakeEngine::stats() const {
  const std::lock_guard lock(mutex_);
  EngineStats stats;
  stats.num_blocks_total = options_.num_blocks;
  stats.dead = dead_;
  for (const auto& live : live_) {
    if (live->running) {
      ++stats.num_running;
      const auto tokens =
          static_cast<int64_t>(live->request.prompt_ids.size()) + live->num_generated;
      stats.num_blocks_used += (tokens + options_.block_size - 1) / options_.block_size;
    } else {
      ++stats.num_waiting;
    }
  }
  return stats;
}

void FakeEngine::pause() {
  const std::lock_guard lock(mutex_);
  paused_ = true;
}

void FakeEngine::set_dead(bool dead) {
  const std::lock_guard lock(mutex_);
  dead_ = dead;
}

void FakeEngine::resume() {
  const std::lock_guard lock(mutex_);
  paused_ = false;
  cv_.notify_all();
}

std::vector<std::string> FakeEngine::aborted() const {
  const std::lock_guard lock(mutex_);
  return aborted_;
}

std::vector<Request> FakeEngine::received() const {
  const std::lock_guard lock(mutex_);
  return received_;
}

std::string FakeEngine::expected_text(int64_t max_tokens) const {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < max_tokens; ++i) {
    ids.push_back(cycle_[static_cast<size_t>(i) % cycle_.size()]);
  }
  return tokenizer_.decode(ids, true);
}

RequestOutput FakeEngine::output_for(const Live& live) const {
  RequestOutput out;
  out.request_id = live.request.id;
  out.num_prompt_tokens = static_cast<int64_t>(live.request.prompt_ids.size());
  out.num_output_tokens = live.num_generated;
  return out;
}

void FakeEngine::finish_locked(Live& live, FinishStatus status, std::vector<Delivery>& out) {
  RequestOutput output = output_for(live);
  output.new_text = live.detokenizer->finish();
  output.status = status;
  if (status == FinishStatus::kAbort) {
    aborted_.push_back(live.request.id);
  }
  out.emplace_back(live.on_output, std::move(output));
}

void FakeEngine::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    cv_.wait_for(lock, options_.step);
    if (paused_ || stop_) {
      continue;
    }
    std::vector<Delivery> out;
    int64_t running = 0;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = live_.begin(); it != live_.end();) {
      Live& live = **it;
      if (live.request.deadline && now >= *live.request.deadline) {
        finish_locked(live, FinishStatus::kAbort, out);
        it = live_.erase(it);
        continue;
      }
      if (!live.running && running < options_.max_running) {
        live.running = true;
      }
      if (!live.running) {
        ++it;
        continue;
      }
      ++running;
      const int32_t token = cycle_[static_cast<size_t>(live.num_generated) % cycle_.size()];
      ++live.num_generated;
      RequestOutput output = output_for(live);
      output.new_token_ids = {token};
      output.new_text = live.detokenizer->add(token);
      if (live.request.logprobs >= 0) {
        TokenLogprobs logprobs{.token = token, .logprob = -0.5F, .top = {}};
        for (int32_t k = 0; k < live.request.logprobs; ++k) {
          logprobs.top.push_back({.token = cycle_[static_cast<size_t>(k) % cycle_.size()],
                                  .logprob = -1.0F - static_cast<float>(k)});
        }
        output.new_logprobs = {logprobs};
      }
      if (live.num_generated >= live.request.sampling.max_tokens) {
        output.new_text += live.detokenizer->finish();
        output.status = FinishStatus::kLength;
        out.emplace_back(live.on_output, std::move(output));
        it = live_.erase(it);
        continue;
      }
      out.emplace_back(live.on_output, std::move(output));
      ++it;
    }
    if (live_.empty()) {
      cv_.notify_all();  // a shutdown() may wait for this
    }
    lock.unlock();
    for (auto& [callback, output] : out) {
      callback(output);
    }
    lock.lock();
  }
}

}  // namespace swiftkv::testing
