// Linear layers on CUDA through cuBLASLt: out = x · wᵀ with bf16 operands, f32 accumulation and
// a bf16 or f32 result; or, for the f32 model, f32 operands and result in true f32 (no TF32). Fused
// projections (QKV, gate-up, SwiftKV's all-leaders K/V) are one call on the concatenated weight;
// the caller slices the output by columns (see out_stride).
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>

#include "kernels/cuda/device_memory.h"

namespace swiftkv::cuda {

enum class GemmOutType { kBF16, kF32 };
// The operands' type. kF32 computes in true f32 (CUBLAS_COMPUTE_32F, never the TF32 fast modes)
// and needs an f32 output.
enum class GemmInType { kBF16, kF32 };

// One linear layer. Row-major, Hugging Face weight layout:
// out: [num_tokens, out_features] (row stride out_stride elements, 0 = out_features);
// x: [num_tokens, in_features] (row stride x_stride, 0 = in_features);
// w: [out_features, in_features], contiguous; x and w both of in_type.
// beta = 0: out = x · wᵀ; beta = 1: out += x · wᵀ (e.g. adding into the residual stream; with a
// bf16 output cuBLASLt rounds x · wᵀ to bf16 before the add: two roundings, not one).
struct GemmArgs {
  void* out = nullptr;
  GemmOutType out_type = GemmOutType::kBF16;
  int64_t out_stride = 0;
  const void* x = nullptr;
  int64_t x_stride = 0;
  const void* w = nullptr;
  GemmInType in_type = GemmInType::kBF16;
  int64_t num_tokens = 0;
  int64_t out_features = 0;
  int64_t in_features = 0;
  float beta = 0.0F;
};

// Owns a cuBLASLt handle, its workspace and a cache of matmul plans (descriptors + the
// heuristic's first algorithm) keyed by shape, strides, output type, beta and pointer alignment.
// The first call for a key costs a heuristic query (tens of microseconds, host only, so it may
// happen during CUDA graph capture); later calls only launch. Not thread-safe: one per stream.
class CublasLt {
 public:
  // 32 MiB is what NVIDIA recommends for Hopper; larger split-K algorithms may use it all.
  static constexpr size_t kDefaultWorkspaceBytes = size_t{32} << 20;

  explicit CublasLt(size_t workspace_bytes = kDefaultWorkspaceBytes);
  ~CublasLt();
  CublasLt(const CublasLt&) = delete;
  CublasLt& operator=(const CublasLt&) = delete;

  // Enqueues out = x · wᵀ (+ beta · out) on `stream`. Pointers must be 2-byte aligned; 16-byte
  // alignment (and strides that keep rows 16-byte aligned) lets the fast algorithms run.
  // Cost: 2 · num_tokens · out_features · in_features flops.
  void linear(cudaStream_t stream, const GemmArgs& args);

  cublasLtHandle_t handle() const { return handle_; }

 private:
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t w_layout = nullptr;
    cublasLtMatrixLayout_t x_layout = nullptr;
    cublasLtMatrixLayout_t out_layout = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  // (num_tokens, out_features, in_features, x_stride, out_stride, out_type, beta != 0,
  //  alignment of w, x, out in bytes, in_type)
  using PlanKey =
      std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int, bool, int, int, int, int>;

  const Plan& plan_for(const GemmArgs& args, int64_t x_stride, int64_t out_stride);
  static void destroy(Plan& plan);

  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  std::map<PlanKey, Plan> plans_;
};

}  // namespace swiftkv::cuda
