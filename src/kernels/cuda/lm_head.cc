#include "kernels/cuda/lm_head.h"

#include "core/error.h"
#include "kernels/cuda/gather_rows.h"

namespace swiftkv::cuda {

void lm_head_bf16(CublasLt& blas, cudaStream_t stream, const LmHeadArgs& args) {
  if (args.num_selected == 0) {
    return;
  }
  const __nv_bfloat16* rows = args.hidden;
  if (args.selected != nullptr) {
    SWIFTKV_CHECK(args.scratch != nullptr, "lm_head: a gather needs a scratch buffer");
    gather_rows(stream, args.scratch, args.hidden, args.selected, args.num_selected,
                args.hidden_size * static_cast<int64_t>(sizeof(__nv_bfloat16)));
    rows = args.scratch;
  }
  blas.linear(stream, {.out = args.logits,
                       .out_type = GemmOutType::kF32,
                       .x = rows,
                       .w = args.weight,
                       .num_tokens = args.num_selected,
                       .out_features = args.vocab_size,
                       .in_features = args.hidden_size});
}

}  // namespace swiftkv::cuda
