#include "core/thread_pool.h"

#include <algorithm>

#include "core/error.h"

namespace swiftkv {
namespace {

void run_chunk(const std::function<void(int64_t, int64_t)>& fn, int64_t n, int chunks, int index) {
  const int64_t begin = n * index / chunks;
  const int64_t end = n * (index + 1) / chunks;
  if (begin < end) {
    fn(begin, end);
  }
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  SWIFTKV_CHECK(num_threads >= 1, "num_threads=", num_threads);
  workers_.reserve(static_cast<size_t>(num_threads - 1));
  for (int i = 0; i + 1 < num_threads; ++i) {
    workers_.emplace_back([this, i] { worker_loop(i + 1); });
  }
}

ThreadPool::~ThreadPool() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& worker : workers_) {
    worker.join();
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                              int64_t min_chunk) {
  if (n <= 0) {
    return;
  }
  const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk));
  const int chunks = static_cast<int>(std::min<int64_t>(num_threads(), max_chunks));
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  {
    const std::lock_guard lock(mutex_);
    job_ = &fn;
    job_size_ = n;
    job_chunks_ = chunks;
    pending_ = chunks - 1;
    error_ = nullptr;
    ++generation_;
  }
  work_ready_.notify_all();
  std::exception_ptr caller_error;
  try {
    run_chunk(fn, n, chunks, 0);
  } catch (...) {
    caller_error = std::current_exception();
  }
  std::unique_lock lock(mutex_);
  work_done_.wait(lock, [this] { return pending_ == 0; });
  job_ = nullptr;
  if (caller_error) {
    std::rethrow_exception(caller_error);
  }
  if (error_) {
    std::rethrow_exception(error_);
  }
}

void ThreadPool::worker_loop(int worker_index) {
  uint64_t seen_generation = 0;
  while (true) {
    std::unique_lock lock(mutex_);
    work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen_generation; });
    if (stopping_) {
      return;
    }
    seen_generation = generation_;
    if (worker_index >= job_chunks_) {
      continue;
    }
    const auto* job = job_;
    const int64_t n = job_size_;
    const int chunks = job_chunks_;
    lock.unlock();
    std::exception_ptr error;
    try {
      run_chunk(*job, n, chunks, worker_index);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !error_) {
      error_ = error;
    }
    if (--pending_ == 0) {
      work_done_.notify_one();
    }
  }
}

int default_num_threads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace swiftkv
