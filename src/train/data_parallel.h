// Data-parallel training inside one process: N ranks, one thread each, rank r on cuda:r (or on
// the CPU), talking through libtorch's c10d process groups — ProcessGroupNCCL for CUDA ranks,
// ProcessGroupGloo for CPU ranks — that rendezvous through one in-process c10d::HashStore.
//
// Threads, not processes: the trainer's setup (checkpoint, tokenizer, data, packing) happens once
// and every rank reads the same host copy, no launcher or TCP store is needed, a rank's error
// reaches the caller as an exception, and the CPU tests run in one test binary. libtorch allows
// it: autograd runs independent graphs on different threads, each CUDA device has its own
// generator and streams, and NCCL supports one communicator per thread and device in one
// process. The costs: the ranks share the CPU (per-rank intra-op threads = cores / N unless
// given) and torch's global generators (TorchLlama::random serialises its use of them).
// Collectives are called in the same order on every rank; a rank that throws destroys its process
// group (gloo peers then fail at once; NCCL peers block until the group's timeout) and wakes the
// ranks waiting at barrier().
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "train/torch_include.h"

namespace swiftkv {

struct DataParallelOptions {
  int num_ranks = 1;
  // "cpu": every rank on the CPU (gloo); "cuda": rank r on cuda:r (NCCL); "cuda:N": one rank
  // on that device only.
  std::string device = "cpu";
  int threads = 0;  // libtorch intra-op threads per rank; 0 = hardware threads / num_ranks (CPU)
};

// Which c10d backends this build has (src/train/CMakeLists.txt detects them).
bool have_gloo();
bool have_nccl();

class HostBarrier;
class Collectives;

// One rank's view of the group. Not thread-safe: only its own thread uses it.
class DataParallelRank {
 public:
  DataParallelRank(int rank, int num_ranks, torch::Device device,
                   std::unique_ptr<Collectives> collectives, HostBarrier* barrier);
  ~DataParallelRank();
  DataParallelRank(const DataParallelRank&) = delete;
  DataParallelRank& operator=(const DataParallelRank&) = delete;

  int rank() const { return rank_; }
  int num_ranks() const { return num_ranks_; }
  bool is_main() const { return rank_ == 0; }  // writes checkpoints, metrics, progress
  const torch::Device& device() const { return device_; }
  // "nccl", "gloo" or "none" (one rank and no backend for its device type).
  std::string backend() const;

  // Sums `tensor` (on device()) over the ranks in place; returns when the sum is in `tensor`
  // (CUDA: ordered before later work on the current stream). Every rank gets the same bits.
  void all_reduce_sum(torch::Tensor& tensor);
  // Copies rank 0's `tensor` into every rank's, in place.
  void broadcast_from_main(torch::Tensor& tensor);
  // Waits on the host until every rank has arrived (no device work); throws if a rank failed.
  void barrier();

 private:
  int rank_;
  int num_ranks_;
  torch::Device device_;
  std::unique_ptr<Collectives> collectives_;
  HostBarrier* barrier_;
};

// The device of rank `rank` for options.device (see DataParallelOptions).
torch::Device rank_device(const std::string& device, int rank);

// Throws Error unless `options` can run here: num_ranks >= 1, a device spec that fits (enough
// CUDA devices; "cuda:N" only with one rank) and a c10d backend for N > 1 ranks.
void check_data_parallel(const DataParallelOptions& options);

// Runs body(rank) for every rank on its own thread (its device current, its intra-op thread
// count set), each with its process group, and returns when all have finished. Rethrows the
// first exception any rank raised (the others' follow-up errors are dropped). One rank runs on
// the caller's thread. NCCL_NVLS_ENABLE is set to 0 unless already set.
void run_data_parallel(const DataParallelOptions& options,
                       const std::function<void(DataParallelRank&)>& body);

}  // namespace swiftkv
