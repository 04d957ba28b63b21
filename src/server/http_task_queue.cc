// Elastic worker pool for cpp-httplib; see http_task_queue.h.
#include "server/http_task_queue.h"

#include <utility>

#include "core/logging.h"

namespace swiftkv::server {

ElasticTaskQueue::ElasticTaskQueue(size_t max_threads)
    : max_threads_(max_threads == 0 ? 1 : max_threads) {}

ElasticTaskQueue::~ElasticTaskQueue() { shutdown(); }

void ElasticTaskQueue::enqueue(std::function<void()> fn) {
  {
    const std::lock_guard lock(mutex_);
    if (shutdown_) {
      return;  // httplib enqueues nothing after shutdown(); dropping closes nothing new
    }
    jobs_.push_back(std::move(fn));
    if (num_idle_ < jobs_.size() && threads_.size() < max_threads_) {
      threads_.emplace_back([this] { worker_loop(); });
      ++num_idle_;  // counted idle until it takes a job
    }
  }
  cv_.notify_one();
}

void ElasticTaskQueue::shutdown() {
  std::vector<std::thread> threads;
  {
    const std::lock_guard lock(mutex_);
    shutdown_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (std::thread& t : threads) {
    t.join();
  }
}

void ElasticTaskQueue::worker_loop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
      if (jobs_.empty()) {
        return;  // shutdown_ and nothing left to run
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
      --num_idle_;
    }
    try {
      job();
    } catch (const std::exception& e) {  // httplib catches handler exceptions; belt and braces
      log_warning("http worker: uncaught exception: ", e.what());
    } catch (...) {
      log_warning("http worker: uncaught exception");
    }
    const std::lock_guard lock(mutex_);
    ++num_idle_;
  }
}

}  // namespace swiftkv::server
