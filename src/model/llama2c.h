// Importer of llama2.c checkpoints (karpathy/llama2.c `run.c`, legacy version-0 format).
//
// File layout (little-endian): 7 x int32 header
//   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (negative: untied classifier),
//   seq_len
// then f32 arrays, each [out, in] row-major like torch.nn.Linear weights:
//   token_embedding [vocab, dim], rms_att [n_layers, dim], wq [n_layers, dim, dim],
//   wk [n_layers, kv_dim, dim], wv [n_layers, kv_dim, dim], wo [n_layers, dim, dim],
//   rms_ffn [n_layers, dim], w1 [n_layers, hidden, dim], w2 [n_layers, dim, hidden],
//   w3 [n_layers, hidden, dim], rms_final [dim], freq_cis_real and freq_cis_imag
//   [seq_len, head_dim / 2] each (skipped), wcls [vocab, dim] only when untied;
// with head_dim = dim / n_heads, kv_dim = n_kv_heads * head_dim. The file size must match the
// header exactly.
//
// Output: a LlamaForCausalLM config (rope_theta 10000, rms_norm_eps 1e-5 as run.c uses,
// max_position_embeddings = seq_len, bos 1, eos 2, f32) and f32 tensors with Hugging Face names
// (w1 -> gate_proj, w2 -> down_proj, w3 -> up_proj). run.c rotates adjacent pairs (x[2i],
// x[2i+1]); Hugging Face rotates halves (x[i], x[i + head_dim/2]); the rows of wq and wk are
// permuted per head accordingly (permute_rotary_rows).
#pragma once

#include <string>

#include "model/config.h"
#include "model/safetensors.h"

namespace swiftkv {

struct Llama2cCheckpoint {
  ModelConfig config;
  NamedTensors tensors;  // owned host f32 tensors; no lm_head.weight when tied
};

// Reads `bin_path`; throws Error naming the file when the header is invalid or the size does
// not match it.
Llama2cCheckpoint import_llama2c(const std::string& bin_path);

// transformers `convert_llama_weights_to_hf.py` permute(w, n_heads, dim1, dim2):
//   w.view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2).reshape(dim1, dim2)
// i.e. within each head, output row r < head_dim/2 is input row 2r and output row
// head_dim/2 + r is input row 2r + 1. `w`: [num_heads * head_dim, dim2] f32; returns a new tensor.
Tensor permute_rotary_rows(const Tensor& w, int64_t num_heads);

}  // namespace swiftkv
