// BatchView: the plain-data description of one forward step (DESIGN.md §2–3).
//
// Tokens of all sequences are flattened: sequence s owns rows
// [attention.query_start_loc[s], attention.query_start_loc[s + 1]). Every token is written into
// the KV cache at slot_mapping[t] (the same slot in every cache layer). The last
// num_logits[s] rows of sequence s need logits (the last prompt token, decode tokens, or every
// prompt token for prompt logprobs); selecting a suffix keeps the causal mask of Phase B
// aligned bottom-right (DESIGN.md §3, step 2).
#pragma once

#include "core/tensor.h"
#include "ops/ops.h"

namespace swiftkv {

struct BatchView {
  Tensor token_ids;                  // [num_tokens] i32
  Tensor positions;                  // [num_tokens] i32, position of each token in its sequence
  Tensor slot_mapping;               // [num_tokens] i32, cache slot (block * block_size + offset)
  ops::AttentionMetadata attention;  // over all num_tokens rows
  Tensor num_logits;  // [num_seqs] i32, trailing rows of each sequence that need logits
  // Pipelined decoding (CUDA only; engine/engine_core.h): tokens the previous step sampled that
  // are still on the device. Row token_source_rows[i, 0] of token_ids (which holds 0 there)
  // takes token_source[token_source_rows[i, 1]] before the step runs. [n, 2] i32 host pairs and
  // a device i32 vector; both empty (undefined) when every token is known on the host.
  Tensor token_source_rows;
  Tensor token_source;
};

}  // namespace swiftkv
