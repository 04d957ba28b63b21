// The model as the engine drives it (DESIGN.md §2-3): one forward step over a host BatchView and
// a paged KvCache, on the CPU (LlamaModel) or on the GPU (CudaLlamaModel, device KvCache). The
// scheduler, the block manager and the model runner are the same for both; only this interface
// knows the device.
//
// Not thread-safe: the engine thread owns the model while it runs (the CUDA forward mutates its
// activation buffers and graphs).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "model/batch.h"
#include "model/config.h"
#include "model/kv_cache.h"
#include "model/llama_model.h"
#include "model/llama_model_cuda.h"
#include "ops/context.h"

namespace swiftkv {

class StepModel {
 public:
  virtual ~StepModel() = default;

  virtual const ModelConfig& config() const = 0;
  // Where the ops run (kCuda: the logits of forward() are on the device).
  virtual const ops::Context& context() const = 0;
  // The cache shape for `num_blocks` blocks of `block_size` tokens (bytes_per_token() is what
  // capacity planning divides by).
  virtual KvCacheShape cache_shape(int64_t num_blocks, int64_t block_size) const = 0;
  // A zero-filled cache where the model runs (every rank's shard under tensor parallelism).
  virtual KvCache allocate_cache(int64_t num_blocks, int64_t block_size) const {
    return {context(), cache_shape(num_blocks, block_size)};
  }
  // LlamaModel::forward's contract: writes every token's K/V into `cache` and returns the
  // logits of the rows selected by batch.num_logits, [sum(num_logits), vocab_size] f32 in row
  // order: a host tensor on the CPU; on kCuda a device view valid until the next forward().
  virtual Tensor forward(const BatchView& batch, const KvCache& cache) = 0;
  // Whether forward() takes BatchView::token_source (tokens a previous step sampled on the
  // device), which lets the engine queue a step before the previous one's tokens are back.
  virtual bool takes_device_tokens() const { return false; }

 protected:
  StepModel() = default;
  StepModel(const StepModel&) = default;
  StepModel& operator=(const StepModel&) = default;
};

// LlamaModel (f32 activations, host logits). `model` must outlive this.
class CpuStepModel final : public StepModel {
 public:
  CpuStepModel(const LlamaModel& model, ops::Context ctx) : model_(model), ctx_(ctx) {}

  const ModelConfig& config() const override { return model_.config(); }
  const ops::Context& context() const override { return ctx_; }
  KvCacheShape cache_shape(int64_t num_blocks, int64_t block_size) const override {
    return model_.cache_shape(num_blocks, block_size);
  }
  Tensor forward(const BatchView& batch, const KvCache& cache) override {
    return model_.forward(ctx_, batch, cache);
  }

 private:
  const LlamaModel& model_;
  ops::Context ctx_;
};

// CudaLlamaModel (bf16, device cache, logits left on the device for GPU sampling). `model` and
// the device behind `ctx` must outlive this.
class CudaStepModel final : public StepModel {
 public:
  CudaStepModel(CudaLlamaModel& model, ops::Context ctx) : model_(model), ctx_(ctx) {}

  const ModelConfig& config() const override { return model_.config(); }
  const ops::Context& context() const override { return ctx_; }
  KvCacheShape cache_shape(int64_t num_blocks, int64_t block_size) const override {
    return model_.cache_shape(num_blocks, block_size);
  }
  Tensor forward(const BatchView& batch, const KvCache& cache) override {
    return model_.forward_device(ctx_, batch, cache);
  }
  bool takes_device_tokens() const override { return true; }

 private:
  CudaLlamaModel& model_;
  ops::Context ctx_;
};

}  // namespace swiftkv
