// Checks and dispatch for ops::paged_attention (contract in paged_attention.h).
#include "ops/paged_attention.h"

#include <array>
#include <span>

#include "kernels/cpu/paged_attention.h"
#include "kernels/cuda/backend.h"
#include "ops/checks.h"
#include "ops/column_slices.h"
#include "ops/dispatch.h"
#include "ops/rope_write_kv_cache.h"

namespace swiftkv::ops {
namespace {

constexpr std::string_view kOp = "paged_attention";

// Shapes and values of the metadata against num_tokens and the cache
// [num_blocks, block_size, num_kv_heads, head_dim]. Linear in num_seqs + used blocks.
void check_metadata(const Context& ctx, const AttentionMetadata& m, int64_t num_tokens,
                    const Tensor& k_cache) {
  detail::check_rank(kOp, "kv_lens", m.kv_lens, 1);
  detail::check_dtype(kOp, "kv_lens", m.kv_lens, DType::kI32);
  const int64_t num_seqs = m.kv_lens.dim(0);
  detail::check_shape(kOp, "query_start_loc", m.query_start_loc, {num_seqs + 1});
  detail::check_dtype(kOp, "query_start_loc", m.query_start_loc, DType::kI32);
  detail::check_rank(kOp, "block_tables", m.block_tables, 2);
  detail::check_dtype(kOp, "block_tables", m.block_tables, DType::kI32);
  SWIFTKV_CHECK(m.block_tables.dim(0) == num_seqs, "paged_attention: block_tables ",
                shape_str(m.block_tables.shape()), " vs kv_lens ", shape_str(m.kv_lens.shape()));
  if (ctx.backend == Backend::kCuda) {
    return;  // values on the device
  }

  const int32_t* starts = m.query_start_loc.data<int32_t>();
  const int32_t* kv_lens = m.kv_lens.data<int32_t>();
  const int32_t* tables = m.block_tables.data<int32_t>();
  const int64_t num_blocks = k_cache.dim(0);
  const int64_t block_size = k_cache.dim(1);
  const int64_t max_blocks = m.block_tables.dim(1);
  SWIFTKV_CHECK(starts[0] == 0, "paged_attention: query_start_loc[0] = ", starts[0]);
  SWIFTKV_CHECK(starts[num_seqs] == num_tokens, "paged_attention: query_start_loc[", num_seqs,
                "] = ", starts[num_seqs], " but q has ", num_tokens, " tokens");
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t q_len = int64_t{starts[s + 1]} - starts[s];
    SWIFTKV_CHECK(q_len >= 0, "paged_attention: query_start_loc decreases at ", s, ": ", starts[s],
                  " > ", starts[s + 1]);
    SWIFTKV_CHECK(kv_lens[s] >= q_len && kv_lens[s] <= max_blocks * block_size,
                  "paged_attention: kv_lens[", s, "] = ", kv_lens[s], " with q_len ", q_len,
                  " and block_tables ", shape_str(m.block_tables.shape()), " of block_size ",
                  block_size);
    const int64_t used_blocks = (kv_lens[s] + block_size - 1) / block_size;
    for (int64_t b = 0; b < used_blocks; ++b) {
      const int32_t block = tables[s * max_blocks + b];
      SWIFTKV_CHECK(block >= 0 && block < num_blocks, "paged_attention: block_tables[", s, ", ", b,
                    "] = ", block, " is outside the cache ", shape_str(k_cache.shape()));
    }
  }
}

// The checks of paged_attention's arguments (contract in paged_attention.h).
void check_attention_args(const Context& ctx, const Tensor& out, const Tensor& q,
                          const Tensor& k_cache, const Tensor& v_cache,
                          const AttentionMetadata& metadata) {
  detail::check_device(ctx, kOp,
                       {&out, &q, &k_cache, &v_cache, &metadata.query_start_loc, &metadata.kv_lens,
                        &metadata.block_tables});
  detail::check_rank(kOp, "out", out, 3);
  const DType dtype = detail::activation_dtype_of(ctx, kOp, "out", out);
  detail::check_dtype(kOp, "q", q, dtype);
  const bool fused_q = q.rank() == 2;
  if (fused_q) {
    SWIFTKV_CHECK(q.dim(0) == out.dim(0) && q.dim(1) >= out.dim(1) * out.dim(2), kOp, ": q ",
                  shape_str(q.shape()), " does not start with the columns of out ",
                  shape_str(out.shape()));
  } else {
    detail::check_rank(kOp, "q", q, 3);
    detail::check_shape(kOp, "out", out, q.shape());
  }
  detail::check_rank(kOp, "k_cache", k_cache, 4);
  detail::check_cache_dtype(ctx, kOp, "k_cache", k_cache, dtype);
  detail::check_shape(kOp, "v_cache", v_cache, k_cache.shape());
  detail::check_dtype(kOp, "v_cache", v_cache, k_cache.dtype());
  const int64_t num_heads = out.dim(1);
  const int64_t num_kv_heads = k_cache.dim(2);
  SWIFTKV_CHECK(out.dim(2) == k_cache.dim(3) && num_kv_heads > 0 && num_heads % num_kv_heads == 0,
                "paged_attention: q ", shape_str(q.shape()), " does not fit the cache ",
                shape_str(k_cache.shape()),
                " (head_dim must match, num_heads must be a multiple "
                "of num_kv_heads)");
  SWIFTKV_CHECK(k_cache.dim(1) > 0, "paged_attention: cache ", shape_str(k_cache.shape()),
                " has block_size 0");
  check_metadata(ctx, metadata, out.dim(0), k_cache);
}

// The CUDA backend's arguments of one attention call over all of `metadata`'s sequences.
cuda::AttentionArgs cuda_attention_args(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                                        const Tensor& v_cache, const AttentionMetadata& metadata,
                                        float scale, bool use_decode_kernel) {
  return {.out = out,
          .q = q,
          .k_cache = k_cache,
          .v_cache = v_cache,
          .query_start_loc = metadata.query_start_loc,
          .kv_lens = metadata.kv_lens,
          .block_tables = metadata.block_tables,
          .scale = scale,
          .use_decode_kernel = use_decode_kernel};
}

}  // namespace

void paged_attention(const Context& ctx, const Tensor& out, const Tensor& q, const Tensor& k_cache,
                     const Tensor& v_cache, const AttentionMetadata& metadata, float scale) {
  check_attention_args(ctx, out, q, k_cache, v_cache, metadata);
  const bool fused_q = q.rank() == 2;
  const Tensor& starts = metadata.query_start_loc;
  const Tensor& kv_lens = metadata.kv_lens;
  const Tensor& tables = metadata.block_tables;
  // The CPU kernels take q contiguous: copy the q columns of a fused projection first.
  const auto host_q = [&] {
    return fused_q ? detail::copy_columns(q, 0, out.dim(1) * out.dim(2)).reshape(out.shape()) : q;
  };
  detail::dispatch(
      ctx, kOp,
      [&] {
        kernels::cpu::ref::paged_attention(out, host_q(), k_cache, v_cache, starts, kv_lens, tables,
                                           scale);
      },
      [&](ThreadPool& pool) {
        kernels::cpu::paged_attention(pool, out, host_q(), k_cache, v_cache, starts, kv_lens,
                                      tables, scale);
      },
      [&](cuda::CudaContext& cuda) {
        const int64_t num_seqs = kv_lens.dim(0);
        const int64_t d = metadata.num_decode_seqs;
        const int64_t d_rows = metadata.num_decode_tokens;
        SWIFTKV_CHECK(d >= 0 && d <= num_seqs && d_rows >= 0 && d_rows <= out.dim(0) &&
                          d_rows <= d * kDecodeMaxQueryLen,
                      kOp, ": decode hint of ", d, " sequences and ", d_rows, " rows for ",
                      num_seqs, " sequences and ", out.dim(0), " rows");
        const bool decode_only =
            metadata.max_query_len >= 1 && metadata.max_query_len <= kDecodeMaxQueryLen;
        cuda::AttentionArgs args =
            cuda_attention_args(out, q, k_cache, v_cache, metadata, scale, decode_only);
        if (decode_only || d == 0 || d == num_seqs) {
          cuda::paged_attention(cuda, args);
          return;
        }
        // The decodes on their rows; the rest on all rows (absolute row offsets).
        cuda::AttentionArgs decodes = args;
        decodes.out = out.rows(0, d_rows);
        decodes.q = q.rows(0, d_rows);
        decodes.query_start_loc = starts.rows(0, d + 1);
        decodes.kv_lens = kv_lens.rows(0, d);
        decodes.block_tables = tables.rows(0, d);
        decodes.use_decode_kernel = true;
        cuda::paged_attention(cuda, decodes);
        args.query_start_loc = starts.rows(d, num_seqs + 1);
        args.kv_lens = kv_lens.rows(d, num_seqs);
        args.block_tables = tables.rows(d, num_seqs);
        cuda::paged_attention(cuda, args);
      });
}

void paged_attention_with_rope(const Context& ctx, const Tensor& out, const Tensor& qkv,
                               const Tensor& k_cache, const Tensor& v_cache,
                               const AttentionMetadata& metadata, float scale,
                               const AttentionRope& rope) {
  const int64_t num_heads = out.rank() == 3 ? out.dim(1) : 0;
  const int64_t head_dim = out.rank() == 3 ? out.dim(2) : 0;
  // The fused kernel is bf16 only: an fp8 cache or an f32 model takes the two ops below without
  // checking the arguments twice.
  const bool one_row_decode = ctx.backend == Backend::kCuda && metadata.max_query_len == 1 &&
                              out.rank() == 3 && out.dim(0) == 1 && qkv.rank() == 2 &&
                              k_cache.rank() == 4 && out.dtype() == DType::kBF16 &&
                              k_cache.dtype() == DType::kBF16 &&
                              qkv.dim(1) == (num_heads + 2 * rope.num_kv_heads) * head_dim;
  if (one_row_decode) {
    // The checks of both ops that the fused kernel relies on, then the kernel if it applies.
    detail::check_device(ctx, kOp, {&rope.positions, &rope.inv_freq});
    detail::check_shape(kOp, "positions", rope.positions, {1});
    detail::check_dtype(kOp, "positions", rope.positions, DType::kI32);
    detail::check_shape(kOp, "inv_freq", rope.inv_freq, {head_dim / 2});
    detail::check_dtype(kOp, "inv_freq", rope.inv_freq, DType::kF32);
    SWIFTKV_CHECK(rope.num_kv_heads == 0 || rope.num_kv_heads == k_cache.dim(2), kOp,
                  ": rope over ", rope.num_kv_heads, " kv heads, the cache has ", k_cache.dim(2));
    check_attention_args(ctx, out, qkv, k_cache, v_cache, metadata);
    SWIFTKV_CHECK(ctx.cuda != nullptr, kOp, ": the kCuda backend needs ctx.cuda");
    const cuda::AttentionArgs args =
        cuda_attention_args(out, qkv, k_cache, v_cache, metadata, scale, true);
    if (cuda::paged_attention_with_rope(
            *ctx.cuda, args,
            {.positions = rope.positions,
             .inv_freq = rope.inv_freq,
             .kv_column = rope.num_kv_heads > 0 ? num_heads * head_dim : -1})) {
      return;
    }
  }
  const std::array<Tensor, 1> k_caches = {k_cache};
  const std::array<Tensor, 1> v_caches = {v_cache};
  const bool write = rope.num_kv_heads > 0;
  rope_write_kv_cache(ctx, qkv, num_heads, rope.num_kv_heads, rope.positions, rope.inv_freq,
                      write ? std::span<const Tensor>(k_caches) : std::span<const Tensor>(),
                      write ? std::span<const Tensor>(v_caches) : std::span<const Tensor>(),
                      rope.slot_mapping);
  paged_attention(ctx, out, qkv, k_cache, v_cache, metadata, scale);
}

}  // namespace swiftkv::ops
