// The worker pool behind cpp-httplib's server: one thread per open connection, created on
// demand up to a cap and kept for reuse.
//
// cpp-httplib runs each connection (and every streamed response on it) on one task-queue
// thread, so the number of threads bounds the number of concurrent requests; httplib's fixed
// ThreadPool would make requests beyond its size wait silently instead of reaching the engine's
// queue (and its 429). Connections beyond `max_threads` wait in FIFO order. Thread-safe.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace swiftkv::server {

class ElasticTaskQueue final : public httplib::TaskQueue {
 public:
  explicit ElasticTaskQueue(size_t max_threads);
  ~ElasticTaskQueue() override;
  ElasticTaskQueue(const ElasticTaskQueue&) = delete;
  ElasticTaskQueue& operator=(const ElasticTaskQueue&) = delete;

  void enqueue(std::function<void()> fn) override;
  // Runs the queued tasks, then joins every worker. Idempotent.
  void shutdown() override;

 private:
  void worker_loop();

  size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t num_idle_ = 0;
  bool shutdown_ = false;
};

}  // namespace swiftkv::server
