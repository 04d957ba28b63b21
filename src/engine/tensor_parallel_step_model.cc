#include "engine/tensor_parallel_step_model.h"

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

#include "core/error.h"

namespace swiftkv {

// Ranks 1..N-1 each have a thread that waits for a job; run() hands the job to all of them, runs
// rank 0's part on the calling thread, waits for every rank and rethrows the first failure.
class RankThreads {
 public:
  explicit RankThreads(int size) : size_(size) {
    for (int r = 1; r < size; ++r) {
      threads_.emplace_back([this, r] { loop(r); });
    }
  }
  ~RankThreads() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) {
      t.join();
    }
  }
  RankThreads(const RankThreads&) = delete;
  RankThreads& operator=(const RankThreads&) = delete;

  void run(const std::function<void(int)>& job) {
    {
      const std::lock_guard lock(mutex_);
      job_ = &job;
      pending_ = size_ - 1;
      failure_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    std::exception_ptr mine;
    try {
      job(0);
    } catch (...) {
      mine = std::current_exception();
    }
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    if (mine) {
      std::rethrow_exception(mine);
    }
    if (failure_) {
      std::rethrow_exception(failure_);
    }
  }

 private:
  void loop(int rank) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* job = nullptr;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) {
          return;
        }
        seen = generation_;
        job = job_;
      }
      std::exception_ptr failure;
      try {
        (*job)(rank);
      } catch (...) {
        failure = std::current_exception();
      }
      {
        const std::lock_guard lock(mutex_);
        if (failure && !failure_) {
          failure_ = failure;
        }
        --pending_;
      }
      done_.notify_all();
    }
  }

  int size_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  std::exception_ptr failure_;
  bool stopping_ = false;
};

TensorParallelStepModel::TensorParallelStepModel(const CudaModelSource& source,
                                                 std::vector<ops::Communicator> comms,
                                                 const std::vector<int>& devices,
                                                 const CudaModelOptions& options) {
  const auto size = static_cast<int>(comms.size());
  SWIFTKV_CHECK(size >= 1 && devices.size() == comms.size(), "tensor parallelism: ", size,
                " communicators for ", devices.size(), " devices");
  for (int r = 0; r < size; ++r) {
    SWIFTKV_CHECK(
        comms[static_cast<size_t>(r)].rank() == r && comms[static_cast<size_t>(r)].size() == size,
        "communicator ", r, " is rank ", comms[static_cast<size_t>(r)].rank(), " of ",
        comms[static_cast<size_t>(r)].size());
    ranks_.push_back(Rank{nullptr, {}, std::move(comms[static_cast<size_t>(r)]), nullptr});
  }
  threads_ = std::make_unique<RankThreads>(size);
  threads_->run([&](int r) {
    Rank& rank = ranks_[static_cast<size_t>(r)];
    rank.device = std::make_unique<ops::CudaDevice>(devices[static_cast<size_t>(r)]);
    rank.ctx = rank.device->context();
    CudaModelOptions mine = options;
    mine.tensor_parallel = &rank.comm;
    rank.model = source.build(rank.ctx, mine);
  });
}

TensorParallelStepModel::~TensorParallelStepModel() {
  threads_.reset();  // no job runs past this point; then the models, devices, communicators go
}

std::unique_ptr<TensorParallelStepModel> TensorParallelStepModel::on_gpus(
    const CudaModelSource& source, int size, const CudaModelOptions& options) {
  SWIFTKV_CHECK(size >= 1, "tensor parallelism over ", size, " GPUs");
  std::vector<int> devices(static_cast<size_t>(size));
  std::iota(devices.begin(), devices.end(), 0);
  return std::make_unique<TensorParallelStepModel>(source, ops::Communicator::nccl_group(devices),
                                                   devices, options);
}

std::string TensorParallelStepModel::description() const {
  return str_cat(size(), " x ", ranks_[0].device->description(), " (tensor parallel)");
}

KvCache TensorParallelStepModel::allocate_cache(int64_t num_blocks, int64_t block_size) const {
  std::vector<std::optional<KvCache>> caches(ranks_.size());
  threads_->run([&](int r) {
    const Rank& rank = ranks_[static_cast<size_t>(r)];
    ops::use_device(rank.ctx);
    caches[static_cast<size_t>(r)].emplace(rank.ctx,
                                           rank.model->cache_shape(num_blocks, block_size));
  });
  std::vector<KvCache> others;
  for (size_t r = 1; r < caches.size(); ++r) {
    others.push_back(std::move(*caches[r]));
  }
  KvCache cache = std::move(*caches[0]);
  cache.attach_shards(std::move(others));
  return cache;
}

Tensor TensorParallelStepModel::forward(const BatchView& batch, const KvCache& cache) {
  SWIFTKV_CHECK(cache.num_shards() == size(), "a KV cache of ", cache.num_shards(), " shards for ",
                size(), " tensor-parallel ranks (allocate it with allocate_cache)");
  SWIFTKV_CHECK(!batch.token_source_rows.defined() || batch.token_source_rows.numel() == 0,
                "tensor-parallel steps take host token ids only (no token_source_rows)");
  Tensor logits;
  threads_->run([&](int r) {
    Rank& rank = ranks_[static_cast<size_t>(r)];
    ops::use_device(rank.ctx);
    Tensor out = rank.model->forward_device(rank.ctx, batch, cache.shard(r));
    if (r == 0) {
      logits = std::move(out);
    }
  });
  return logits;
}

}  // namespace swiftkv
