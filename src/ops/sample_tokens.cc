// Checks and dispatch for ops::sample_tokens (contract in sample_tokens.h).
#include "ops/sample_tokens.h"

#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/dispatch.h"

namespace swiftkv::ops {

void sample_tokens(const Context& ctx, const Tensor& tokens, const Tensor& logits,
                   const DeviceSamplingParams& params) {
  constexpr std::string_view kOp = "sample_tokens";
  detail::check_device(ctx, kOp,
                       {&tokens, &logits, &params.temperatures, &params.top_k, &params.top_p,
                        &params.min_p, &params.seeds, &params.offsets});
  detail::check_rank(kOp, "logits", logits, 2);
  detail::check_dtype(kOp, "logits", logits, DType::kF32);
  const int64_t num_rows = logits.dim(0);
  detail::check_shape(kOp, "tokens", tokens, {num_rows});
  detail::check_dtype(kOp, "tokens", tokens, DType::kI32);
  detail::check_shape(kOp, "temperatures", params.temperatures, {num_rows});
  detail::check_dtype(kOp, "temperatures", params.temperatures, DType::kF32);
  detail::check_shape(kOp, "top_k", params.top_k, {num_rows});
  detail::check_dtype(kOp, "top_k", params.top_k, DType::kI32);
  detail::check_shape(kOp, "top_p", params.top_p, {num_rows});
  detail::check_dtype(kOp, "top_p", params.top_p, DType::kF32);
  detail::check_shape(kOp, "min_p", params.min_p, {num_rows});
  detail::check_dtype(kOp, "min_p", params.min_p, DType::kF32);
  detail::check_shape(kOp, "seeds", params.seeds, {num_rows, 2});
  detail::check_dtype(kOp, "seeds", params.seeds, DType::kI32);
  detail::check_shape(kOp, "offsets", params.offsets, {num_rows, 2});
  detail::check_dtype(kOp, "offsets", params.offsets, DType::kI32);
  const auto host_only = [&] {
    throw Error("sample_tokens: no CPU kernel (the CPU engine samples with engine/sampler.h)");
  };
  detail::dispatch(
      ctx, kOp, host_only, [&](ThreadPool&) { host_only(); },
      [&](cuda::CudaContext& cuda) {
        cuda::sample_tokens(cuda, {.tokens = tokens,
                                   .logits = logits,
                                   .temperatures = params.temperatures,
                                   .top_k = params.top_k,
                                   .top_p = params.top_p,
                                   .min_p = params.min_p,
                                   .seeds = params.seeds,
                                   .offsets = params.offsets});
      });
}

}  // namespace swiftkv::ops
