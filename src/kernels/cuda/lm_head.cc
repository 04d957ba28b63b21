#include "kernels/cuda/lm_head.h"

#include <type_traits>

#include "core/error.h"
#include "kernels/cuda/gather_rows.h"

namespace swiftkv::cuda {
namespace {

template <typename T>
void run_lm_head(CublasLt& blas, cudaStream_t stream, const LmHeadArgsT<T>& args) {
  if (args.num_selected == 0) {
    return;
  }
  const T* rows = args.hidden;
  if (args.selected != nullptr) {
    SWIFTKV_CHECK(args.scratch != nullptr, "lm_head: a gather needs a scratch buffer");
    gather_rows(stream, args.scratch, args.hidden, args.selected, args.num_selected,
                args.hidden_size * static_cast<int64_t>(sizeof(T)));
    rows = args.scratch;
  }
  blas.linear(stream, {.out = args.logits,
                       .out_type = GemmOutType::kF32,
                       .x = rows,
                       .w = args.weight,
                       .in_type = std::is_same_v<T, float> ? GemmInType::kF32 : GemmInType::kBF16,
                       .num_tokens = args.num_selected,
                       .out_features = args.vocab_size,
                       .in_features = args.hidden_size});
}

}  // namespace

void lm_head_bf16(CublasLt& blas, cudaStream_t stream, const LmHeadArgs& args) {
  run_lm_head(blas, stream, args);
}

void lm_head_f32(CublasLt& blas, cudaStream_t stream, const LmHeadArgsT<float>& args) {
  run_lm_head(blas, stream, args);
}

}  // namespace swiftkv::cuda
