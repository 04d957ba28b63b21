// The StepModel of a tensor-parallel CUDA model (issue 6, model/tensor_parallel.h): one
// CudaLlamaModel rank per GPU, one thread per rank. The engine's scheduler, block manager and
// sampler run once, on the engine thread, as for one GPU: forward() hands the same host batch to
// every rank (rank 0 runs on the calling thread, the others on their own threads), the ranks meet
// in their collectives, and rank 0's logits (the full vocabulary, on device 0) go to sampling.
// The engine's KvCache is rank 0's shard and carries the others (KvCache::attach_shards).
//
// Ranks are built concurrently, each on its thread, from one CudaModelSource (a checkpoint is read
// once). Not thread-safe, like every StepModel.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/step_model.h"
#include "model/loader.h"
#include "ops/collectives.h"
#include "ops/device.h"

namespace swiftkv {

class RankThreads;  // the worker threads of ranks 1..N-1 (tensor_parallel_step_model.cc)

class TensorParallelStepModel final : public StepModel {
 public:
  // Rank r runs on CUDA device devices[r] (all ranks may share one device with
  // ops::Communicator::device_local_group, to check the math on one GPU) and talks through
  // comms[r]. `options` is every rank's (tensor_parallel is set per rank).
  TensorParallelStepModel(const CudaModelSource& source, std::vector<ops::Communicator> comms,
                          const std::vector<int>& devices, const CudaModelOptions& options);
  ~TensorParallelStepModel() override;
  TensorParallelStepModel(const TensorParallelStepModel&) = delete;
  TensorParallelStepModel& operator=(const TensorParallelStepModel&) = delete;

  // The NCCL group over GPUs 0..size-1 (the serving path).
  static std::unique_ptr<TensorParallelStepModel> on_gpus(const CudaModelSource& source, int size,
                                                          const CudaModelOptions& options);

  int size() const { return static_cast<int>(ranks_.size()); }
  // "2 x NVIDIA H200, 132 SMs, 139.8 GiB (tensor parallel)"
  std::string description() const;
  const CudaLlamaModel& rank_model(int rank) const {
    return *ranks_[static_cast<size_t>(rank)].model;
  }
  const ops::Context& rank_context(int rank) const { return ranks_[static_cast<size_t>(rank)].ctx; }

  const ModelConfig& config() const override { return ranks_[0].model->config(); }
  const ops::Context& context() const override { return ranks_[0].ctx; }
  KvCacheShape cache_shape(int64_t num_blocks, int64_t block_size) const override {
    return ranks_[0].model->cache_shape(num_blocks, block_size);
  }
  KvCache allocate_cache(int64_t num_blocks, int64_t block_size) const override;
  Tensor forward(const BatchView& batch, const KvCache& cache) override;

 private:
  struct Rank {
    std::unique_ptr<ops::CudaDevice> device;
    ops::Context ctx;
    ops::Communicator comm;
    std::unique_ptr<CudaLlamaModel> model;
  };

  std::vector<Rank> ranks_;
  std::unique_ptr<RankThreads> threads_;
};

}  // namespace swiftkv
