// cuBLASLt linear layers. Row-major out[m, n] = x[m, k] · w[n, k]ᵀ is, in cuBLAS's column-major
// terms, outᵀ (n × m) = op(W) · X with W = the k × n column-major view of w (transposed by the
// op) and X = the k × m column-major view of x: the "TN" layout, the best-supported one.
#include "kernels/cuda/gemm.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "kernels/cuda/cuda_check.h"

namespace swiftkv::cuda {
namespace {

// Largest power of two (up to 256, cuBLASLt's default assumption) dividing the address.
int alignment_of(const void* pointer) {
  const auto address = reinterpret_cast<uintptr_t>(pointer);
  int alignment = 256;
  while (alignment > 1 && address % static_cast<uintptr_t>(alignment) != 0) {
    alignment /= 2;
  }
  return alignment;
}

cudaDataType_t cuda_type(GemmOutType type) {
  return type == GemmOutType::kBF16 ? CUDA_R_16BF : CUDA_R_32F;
}

cudaDataType_t cuda_type(GemmInType type) {
  return type == GemmInType::kBF16 ? CUDA_R_16BF : CUDA_R_32F;
}

}  // namespace

CublasLt::CublasLt(size_t workspace_bytes) : workspace_(workspace_bytes) {
  CUBLAS_CHECK(cublasLtCreate(&handle_));
}

CublasLt::~CublasLt() {
  for (auto& [key, plan] : plans_) {
    destroy(plan);
  }
  if (handle_ != nullptr) {
    cublasLtDestroy(handle_);  // no throw from a destructor
  }
}

void CublasLt::destroy(Plan& plan) {
  if (plan.out_layout != nullptr) {
    cublasLtMatrixLayoutDestroy(plan.out_layout);
  }
  if (plan.x_layout != nullptr) {
    cublasLtMatrixLayoutDestroy(plan.x_layout);
  }
  if (plan.w_layout != nullptr) {
    cublasLtMatrixLayoutDestroy(plan.w_layout);
  }
  if (plan.desc != nullptr) {
    cublasLtMatmulDescDestroy(plan.desc);
  }
  plan = Plan{};
}

const CublasLt::Plan& CublasLt::plan_for(const GemmArgs& args, int64_t x_stride,
                                         int64_t out_stride) {
  const std::array<int, 3> alignments = {alignment_of(args.w), alignment_of(args.x),
                                         alignment_of(args.out)};
  const PlanKey key{args.num_tokens,
                    args.out_features,
                    args.in_features,
                    x_stride,
                    out_stride,
                    static_cast<int>(args.out_type),
                    args.beta != 0,
                    alignments[0],
                    alignments[1],
                    alignments[2],
                    static_cast<int>(args.in_type)};
  if (const auto it = plans_.find(key); it != plans_.end()) {
    return it->second;
  }
  Plan plan;
  try {
    // CUBLAS_COMPUTE_32F pinned: f32 accumulation for bf16 operands, and true f32 (IEEE fma, no
    // TF32 rounding of the inputs, which CUBLAS_COMPUTE_32F_FAST_TF32 would allow) for f32 ones.
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t transpose = CUBLAS_OP_T;
    const cublasOperation_t no_transpose = CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                                sizeof(transpose)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB,
                                                &no_transpose, sizeof(no_transpose)));
    const auto m = static_cast<uint64_t>(args.num_tokens);
    const auto n = static_cast<uint64_t>(args.out_features);
    const auto k = static_cast<uint64_t>(args.in_features);
    const cudaDataType_t in_type = cuda_type(args.in_type);
    CUBLAS_CHECK(
        cublasLtMatrixLayoutCreate(&plan.w_layout, in_type, k, n, static_cast<int64_t>(k)));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.x_layout, in_type, k, m, x_stride));
    CUBLAS_CHECK(
        cublasLtMatrixLayoutCreate(&plan.out_layout, cuda_type(args.out_type), n, m, out_stride));

    cublasLtMatmulPreference_t preference = nullptr;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
    cublasLtMatmulHeuristicResult_t result{};
    int num_results = 0;
    try {
      const uint64_t workspace_bytes = workspace_.nbytes();
      CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference,
                                                        CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                        &workspace_bytes, sizeof(workspace_bytes)));
      // Split-K partial sums stay in f32 (not the bf16 output type), so the result is rounded to
      // bf16 once.
      const uint32_t reduction_mask = CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE;
      CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference,
                                                        CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK,
                                                        &reduction_mask, sizeof(reduction_mask)));
      const std::array<cublasLtMatmulPreferenceAttributes_t, 4> alignment_attributes = {
          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
      const std::array<uint32_t, 4> alignment_values = {
          static_cast<uint32_t>(alignments[0]), static_cast<uint32_t>(alignments[1]),
          static_cast<uint32_t>(alignments[2]), static_cast<uint32_t>(alignments[2])};
      for (size_t i = 0; i < alignment_attributes.size(); ++i) {
        CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference, alignment_attributes[i],
                                                          &alignment_values[i], sizeof(uint32_t)));
      }
      CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle_, plan.desc, plan.w_layout, plan.x_layout,
                                                  plan.out_layout, plan.out_layout, preference, 1,
                                                  &result, &num_results));
    } catch (...) {
      cublasLtMatmulPreferenceDestroy(preference);
      throw;
    }
    cublasLtMatmulPreferenceDestroy(preference);
    SWIFTKV_CHECK(num_results > 0, "cuBLASLt has no algorithm for out[", m, ", ", n, "] = x[", m,
                  ", ", k, "] · w[", n, ", ", k, "]ᵀ with x_stride ", x_stride, ", out_stride ",
                  out_stride);
    plan.algo = result.algo;
  } catch (...) {
    destroy(plan);
    throw;
  }
  return plans_.emplace(key, plan).first->second;
}

void CublasLt::linear(cudaStream_t stream, const GemmArgs& args) {
  SWIFTKV_CHECK(args.num_tokens >= 0 && args.out_features > 0 && args.in_features > 0,
                "bad linear shape: num_tokens ", args.num_tokens, ", out_features ",
                args.out_features, ", in_features ", args.in_features);
  SWIFTKV_CHECK(args.beta == 0.0F || args.beta == 1.0F, "beta must be 0 or 1, got ", args.beta);
  SWIFTKV_CHECK(args.in_type == GemmInType::kBF16 || args.out_type == GemmOutType::kF32,
                "an f32 linear needs an f32 output");
  if (args.num_tokens == 0) {
    return;
  }
  const int64_t x_stride = args.x_stride == 0 ? args.in_features : args.x_stride;
  const int64_t out_stride = args.out_stride == 0 ? args.out_features : args.out_stride;
  SWIFTKV_CHECK(x_stride >= args.in_features && out_stride >= args.out_features,
                "row strides too small: x_stride ", x_stride, " < ", args.in_features,
                " or out_stride ", out_stride, " < ", args.out_features);
  const Plan& plan = plan_for(args, x_stride, out_stride);
  const float alpha = 1.0F;
  CUBLAS_CHECK(cublasLtMatmul(handle_, plan.desc, &alpha, args.w, plan.w_layout, args.x,
                              plan.x_layout, &args.beta, args.out, plan.out_layout, args.out,
                              plan.out_layout, &plan.algo, workspace_.data(), workspace_.nbytes(),
                              stream));
}

}  // namespace swiftkv::cuda
