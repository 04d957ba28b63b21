#include "kernels/cuda/paged_attention_args.h"

#include <cstdint>

#include "core/error.h"

namespace swiftkv::cuda {

template <typename TCache>
void check_paged_attention_args(const PagedAttentionArgsT<__nv_bfloat16, TCache>& args,
                                const char* kernel) {
  SWIFTKV_CHECK(args.head_dim == 64 || args.head_dim == 128, kernel,
                ": head_dim must be 64 or 128, got ", args.head_dim);
  SWIFTKV_CHECK(
      args.num_heads > 0 && args.num_kv_heads > 0 && args.num_heads % args.num_kv_heads == 0,
      kernel, ": num_heads ", args.num_heads, " is not a multiple of num_kv_heads ",
      args.num_kv_heads);
  SWIFTKV_CHECK(args.num_seqs >= 0 && args.num_tokens >= 0 && args.block_size > 0 &&
                    args.max_blocks_per_seq > 0,
                kernel, ": bad sizes: num_seqs ", args.num_seqs, ", num_tokens ", args.num_tokens,
                ", block_size ", args.block_size, ", max_blocks_per_seq ", args.max_blocks_per_seq);
  const int64_t q_stride = args.q_stride == 0 ? args.num_heads * args.head_dim : args.q_stride;
  SWIFTKV_CHECK(q_stride >= args.num_heads * args.head_dim && q_stride % 8 == 0, kernel,
                ": q_stride ", q_stride, " must be a multiple of 8 and >= num_heads * head_dim");
  for (const void* pointer :
       {static_cast<const void*>(args.out), static_cast<const void*>(args.q),
        static_cast<const void*>(args.k_cache), static_cast<const void*>(args.v_cache)}) {
    SWIFTKV_CHECK(reinterpret_cast<uintptr_t>(pointer) % 16 == 0, kernel,
                  ": q, out and the caches must be 16-byte aligned, got ", pointer);
  }
}

template void check_paged_attention_args(const PagedAttentionArgs& args, const char* kernel);
template void check_paged_attention_args(const PagedAttentionArgsFp8& args, const char* kernel);

}  // namespace swiftkv::cuda
