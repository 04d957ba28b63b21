// decode_fused.h when SWIFTKV_CUDA is off: never supported, never run.
#include "core/error.h"
#include "kernels/cuda/decode_fused.h"

namespace swiftkv::cuda {

bool decode_fused_supported(int64_t, int64_t) { return false; }
void decode_norm_gemv(CudaContext&, const DecodeFusedArgs&) {
  throw Error("CUDA backend not built (configure with -DSWIFTKV_CUDA=ON on a machine with nvcc)");
}

}  // namespace swiftkv::cuda
