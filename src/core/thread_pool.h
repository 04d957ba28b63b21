// A fixed pool of worker threads for data-parallel loops.
//
// `parallel_for(n, fn)` splits [0, n) into contiguous chunks, one per thread (the calling
// thread takes one), and returns when all are done. The first exception thrown by a chunk is
// rethrown in the caller. Not re-entrant: a chunk must not call parallel_for on the same pool.
// Thread-safe for one caller at a time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace swiftkv {

class ThreadPool {
 public:
  // num_threads >= 1 counts the calling thread; 1 means run everything inline.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) on disjoint chunks covering [0, n). Chunks are at least `min_chunk`
  // long so tiny loops stay on one thread.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                    int64_t min_chunk = 1);

 private:
  void worker_loop(int worker_index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_size_ = 0;
  int job_chunks_ = 0;
  uint64_t generation_ = 0;
  int pending_ = 0;
  std::exception_ptr error_;
  bool stopping_ = false;
};

// Threads to use by default: hardware concurrency, at least 1.
int default_num_threads();

}  // namespace swiftkv
