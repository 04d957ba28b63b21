// Hugging Face tensor names of Llama and Llama-SwiftKV checkpoints (DESIGN.md §1,
// swiftkv-notes §2.2), in one place for the loader, the importers and the converters.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace swiftkv::tensor_names {

inline constexpr std::string_view kEmbedTokens = "model.embed_tokens.weight";
inline constexpr std::string_view kNorm = "model.norm.weight";
inline constexpr std::string_view kLmHead = "lm_head.weight";
inline constexpr std::string_view kNormSwiftKV = "model.norm_swiftkv.weight";

// Per-layer suffixes, for layer(j, suffix).
inline constexpr std::string_view kInputLayernorm = "input_layernorm.weight";
inline constexpr std::string_view kQProj = "self_attn.q_proj.weight";
inline constexpr std::string_view kKProj = "self_attn.k_proj.weight";
inline constexpr std::string_view kVProj = "self_attn.v_proj.weight";
inline constexpr std::string_view kOProj = "self_attn.o_proj.weight";
inline constexpr std::string_view kPostAttentionLayernorm = "post_attention_layernorm.weight";
inline constexpr std::string_view kGateProj = "mlp.gate_proj.weight";
inline constexpr std::string_view kUpProj = "mlp.up_proj.weight";
inline constexpr std::string_view kDownProj = "mlp.down_proj.weight";
inline constexpr std::string_view kQProjSwiftKV = "self_attn.q_proj_swiftkv.weight";
inline constexpr std::string_view kKProjSwiftKV = "self_attn.k_proj_swiftkv.weight";
inline constexpr std::string_view kVProjSwiftKV = "self_attn.v_proj_swiftkv.weight";

// "model.layers.<layer>.<suffix>"
inline std::string layer(int64_t layer, std::string_view suffix) {
  std::string name = "model.layers." + std::to_string(layer) + ".";
  name += suffix;
  return name;
}

}  // namespace swiftkv::tensor_names
