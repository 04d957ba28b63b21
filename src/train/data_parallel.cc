#include "train/data_parallel.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/error.h"

#if defined(SWIFTKV_HAVE_GLOO) || defined(SWIFTKV_HAVE_NCCL)
#include <torch/csrc/distributed/c10d/HashStore.hpp>
#endif
#ifdef SWIFTKV_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef SWIFTKV_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace swiftkv {

// A reusable barrier of the ranks' threads that a failing rank can break (std::barrier cannot).
class HostBarrier {
 public:
  explicit HostBarrier(int num_ranks) : num_ranks_(num_ranks) {}

  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (aborted_) {
      throw Error("data parallel: another rank failed");
    }
    const int64_t generation = generation_;
    if (++arrived_ == num_ranks_) {
      arrived_ = 0;
      ++generation_;
      changed_.notify_all();
      return;
    }
    changed_.wait(lock, [&] { return generation_ != generation || aborted_; });
    if (generation_ == generation) {
      throw Error("data parallel: another rank failed");
    }
  }

  void abort() {
    const std::lock_guard<std::mutex> lock(mutex_);
    aborted_ = true;
    changed_.notify_all();
  }

 private:
  const int num_ranks_;
  std::mutex mutex_;
  std::condition_variable changed_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  bool aborted_ = false;
};

// The collectives of one rank: a c10d process group, or nothing for a lone rank.
class Collectives {
 public:
  virtual ~Collectives() = default;
  virtual std::string name() const = 0;
  virtual void all_reduce_sum(torch::Tensor& tensor) = 0;
  virtual void broadcast_from_main(torch::Tensor& tensor) = 0;
};

namespace {

class NoCollectives final : public Collectives {
 public:
  std::string name() const override { return "none"; }
  void all_reduce_sum(torch::Tensor& /*tensor*/) override {}
  void broadcast_from_main(torch::Tensor& /*tensor*/) override {}
};

#if defined(SWIFTKV_HAVE_GLOO) || defined(SWIFTKV_HAVE_NCCL)
// Any c10d process group type: libtorch 1.13's derive from c10d::ProcessGroup, 2.x's from
// c10d::Backend; both have these virtual collectives.
template <class Group>
class C10dCollectives final : public Collectives {
 public:
  C10dCollectives(c10::intrusive_ptr<Group> group, std::string name)
      : group_(std::move(group)), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void all_reduce_sum(torch::Tensor& tensor) override {
    std::vector<at::Tensor> tensors{tensor};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::SUM;
    group_->allreduce(tensors, options)->wait();
  }
  void broadcast_from_main(torch::Tensor& tensor) override {
    std::vector<at::Tensor> tensors{tensor};
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    group_->broadcast(tensors, options)->wait();
  }

 private:
  c10::intrusive_ptr<Group> group_;
  std::string name_;
};
#endif

#if defined(SWIFTKV_HAVE_GLOO) || defined(SWIFTKV_HAVE_NCCL)
using StorePtr = c10::intrusive_ptr<c10d::Store>;
#else
using StorePtr = std::nullptr_t;
#endif

// Blocks until every rank of the group has made its own (the constructors rendezvous).
std::unique_ptr<Collectives> make_collectives([[maybe_unused]] const StorePtr& store, int rank,
                                              int num_ranks, const torch::Device& device) {
#ifdef SWIFTKV_HAVE_NCCL
  if (device.is_cuda()) {
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, num_ranks);
    return std::make_unique<C10dCollectives<c10d::ProcessGroupNCCL>>(std::move(group), "nccl");
  }
#endif
#ifdef SWIFTKV_HAVE_GLOO
  if (device.is_cpu()) {
    auto options = c10d::ProcessGroupGloo::Options::create();
    // All ranks are threads of this process: loopback is the whole network.
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    options->threads = 2;
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, num_ranks, options);
    return std::make_unique<C10dCollectives<c10d::ProcessGroupGloo>>(std::move(group), "gloo");
  }
#endif
  SWIFTKV_CHECK(num_ranks == 1, "no c10d backend for ", device.str(), " with ", num_ranks,
                " ranks (check_data_parallel lets this through)");
  (void)rank;
  return std::make_unique<NoCollectives>();
}

bool backend_for(const torch::Device& device) {
  return device.is_cuda() ? have_nccl() : have_gloo();
}

}  // namespace

bool have_gloo() {
#ifdef SWIFTKV_HAVE_GLOO
  return true;
#else
  return false;
#endif
}

bool have_nccl() {
#ifdef SWIFTKV_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

DataParallelRank::DataParallelRank(int rank, int num_ranks, torch::Device device,
                                   std::unique_ptr<Collectives> collectives, HostBarrier* barrier)
    : rank_(rank),
      num_ranks_(num_ranks),
      device_(device),
      collectives_(std::move(collectives)),
      barrier_(barrier) {}

DataParallelRank::~DataParallelRank() = default;

std::string DataParallelRank::backend() const { return collectives_->name(); }

void DataParallelRank::all_reduce_sum(torch::Tensor& tensor) {
  SWIFTKV_CHECK(tensor.device() == device_, "all_reduce_sum: tensor on ", tensor.device().str(),
                ", rank ", rank_, " on ", device_.str());
  collectives_->all_reduce_sum(tensor);
}

void DataParallelRank::broadcast_from_main(torch::Tensor& tensor) {
  SWIFTKV_CHECK(tensor.device() == device_, "broadcast_from_main: tensor on ",
                tensor.device().str(), ", rank ", rank_, " on ", device_.str());
  collectives_->broadcast_from_main(tensor);
}

void DataParallelRank::barrier() { barrier_->arrive_and_wait(); }

torch::Device rank_device(const std::string& device, int rank) {
  const torch::Device base(device);
  if (base.is_cuda() && !base.has_index()) {
    return {torch::kCUDA, static_cast<c10::DeviceIndex>(rank)};
  }
  return base;
}

void check_data_parallel(const DataParallelOptions& options) {
  const int n = options.num_ranks;
  if (n < 1) {
    throw Error(str_cat("--nproc must be >= 1, got ", n));
  }
  std::optional<torch::Device> device;
  try {
    device.emplace(options.device);
  } catch (const std::exception&) {
    throw Error(str_cat("--device: expected cpu, cuda or cuda:N, got '", options.device, "'"));
  }
  if (device->is_cuda()) {
    const auto available = static_cast<int>(torch::cuda::device_count());
    if (device->has_index() && n > 1) {
      throw Error(str_cat("--device ", options.device, " with --nproc ", n,
                          ": use --device cuda (rank r runs on cuda:r)"));
    }
    const int needed = device->has_index() ? device->index() + 1 : n;
    if (available < needed) {
      throw Error(str_cat("--device ", options.device, " --nproc ", n, ": needs ", needed,
                          " CUDA device(s), this libtorch sees ", available));
    }
  } else if (!device->is_cpu()) {
    throw Error(str_cat("--device: expected cpu, cuda or cuda:N, got '", options.device, "'"));
  }
  if (n > 1 && !backend_for(*device)) {
    throw Error(str_cat("--nproc ", n, " on ", options.device, ": this build has no c10d ",
                        device->is_cuda() ? "NCCL" : "gloo",
                        " process group (see src/train/CMakeLists.txt; CPU needs libgloo-dev)"));
  }
}

void run_data_parallel(const DataParallelOptions& options,
                       const std::function<void(DataParallelRank&)>& body) {
  check_data_parallel(options);
  const int n = options.num_ranks;
  const torch::Device first = rank_device(options.device, 0);
  if (first.is_cuda()) {
    // NVLink SHARP (multicast) can take the host's GPUs out of service here: keep it off.
    setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);
  }
  int threads = options.threads;
  if (threads <= 0 && n > 1 && first.is_cpu()) {
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / n);
  }
  const bool use_group = backend_for(first);
#if defined(SWIFTKV_HAVE_GLOO) || defined(SWIFTKV_HAVE_NCCL)
  const StorePtr store = c10::make_intrusive<c10d::HashStore>();
#else
  const StorePtr store = nullptr;
#endif
  HostBarrier barrier(n);
  std::mutex error_mutex;
  std::exception_ptr first_error;
  const auto fail = [&](std::exception_ptr error) {
    {
      const std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) {
        first_error = std::move(error);
      }
    }
    barrier.abort();
  };
  auto rank_main = [&](int rank) {
    try {
      const torch::Device device = rank_device(options.device, rank);
      std::optional<c10::DeviceGuard> device_guard;
      if (device.is_cuda()) {
        device_guard.emplace(device);
      }
      if (threads > 0) {
        torch::set_num_threads(threads);  // per thread: OpenMP's thread count is thread-local
      }
      DataParallelRank self(
          rank, n, device,
          use_group ? make_collectives(store, rank, n, device) : std::make_unique<NoCollectives>(),
          &barrier);
      try {
        body(self);
      } catch (...) {
        // Recorded while `self` (and its process group) still exists: the other ranks fail
        // only once it is gone, so their errors come second.
        fail(std::current_exception());
      }
    } catch (...) {
      fail(std::current_exception());
    }
  };
  if (n == 1) {
    rank_main(0);  // no thread: the caller's thread is rank 0
  } else {
    std::vector<std::thread> workers;
    workers.reserve(static_cast<size_t>(n));
    for (int rank = 0; rank < n; ++rank) {
      workers.emplace_back(rank_main, rank);
    }
    for (std::thread& worker : workers) {
      worker.join();
    }
  }
  if (first_error) {
    std::rethrow_exception(first_error);
  }
}

}  // namespace swiftkv
