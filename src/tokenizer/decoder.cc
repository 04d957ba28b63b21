// tokenizer.json decoders; see decoder.h.
#include "tokenizer/decoder.h"

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_fields.h"

namespace swiftkv {
namespace {

namespace jf = json_fields;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The byte of a "<0xXX>" piece, or -1.
int byte_fallback_value(std::string_view piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') return -1;
  const int hi = hex_value(piece[3]);
  const int lo = hex_value(piece[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

void Decoder::parse_into(const nlohmann::json& config, Decoder& decoder, bool& fused) {
  const std::string type = jf::require_string(config, "type", "decoder");
  if (type == "Sequence") {
    const nlohmann::json& list = jf::require(config, "decoders", "decoder Sequence");
    if (!list.is_array()) throw Error("decoder Sequence: 'decoders' must be an array");
    for (const auto& item : list) parse_into(item, decoder, fused);
  } else if (type == "ByteLevel") {
    decoder.byte_level_ = true;
  } else if (type == "Replace") {
    const nlohmann::json& pattern = jf::require(config, "pattern", "decoder Replace");
    if (!jf::has(pattern, "String")) {
      throw Error("decoder Replace: only String patterns are supported");
    }
    std::string from = jf::require_string(pattern, "String", "decoder Replace pattern");
    if (from.empty()) throw Error("decoder Replace: empty String pattern");
    decoder.replacements_.emplace_back(std::move(from),
                                       jf::require_string(config, "content", "decoder Replace"));
  } else if (type == "ByteFallback") {
    decoder.byte_fallback_ = true;
  } else if (type == "Fuse") {
    fused = true;
  } else if (type == "Strip") {
    const std::string content = jf::require_string(config, "content", "decoder Strip");
    const int start = jf::require(config, "start", "decoder Strip").get<int>();
    const int stop = jf::require(config, "stop", "decoder Strip").get<int>();
    if (content != " " || stop != 0 || start < 0 || !fused) {
      throw Error(str_cat("decoder Strip: only content ' ', stop 0, after Fuse is supported (got '",
                          content, "', start ", start, ", stop ", stop, ")"));
    }
    decoder.strip_leading_spaces_ = start;
  } else if (type == "Metaspace") {
    const std::string replacement = jf::has(config, "replacement")
                                        ? jf::require_string(config, "replacement", "Metaspace")
                                        : "\u2581";
    if (replacement.empty()) throw Error("decoder Metaspace: empty replacement");
    decoder.replacements_.emplace_back(replacement, " ");
    bool prepend = jf::get_bool(config, "add_prefix_space", true, "decoder Metaspace");
    if (jf::has(config, "prepend_scheme")) {
      prepend = jf::require_string(config, "prepend_scheme", "decoder Metaspace") != "never";
    }
    decoder.strip_leading_spaces_ = prepend ? 1 : 0;
  } else {
    throw Error(str_cat("unsupported decoder type '", type, "'"));
  }
}

Decoder Decoder::from_json(const nlohmann::json& config) {
  Decoder decoder;
  bool fused = false;
  if (!config.is_null()) parse_into(config, decoder, fused);
  if (decoder.byte_level_ && (decoder.byte_fallback_ || !decoder.replacements_.empty())) {
    throw Error("decoder: ByteLevel combined with Replace/ByteFallback is not supported");
  }
  return decoder;
}

void Decoder::append_piece_bytes(std::string_view piece, std::string& out) const {
  if (byte_level_) {
    // Like tokenizers: a piece with a character outside the byte map is kept as raw UTF-8.
    if (!byte_level_decode(piece, out)) out.append(piece);
    return;
  }
  if (byte_fallback_) {
    if (const int b = byte_fallback_value(piece); b >= 0) {
      out.push_back(static_cast<char>(b));
      return;
    }
  }
  if (replacements_.empty()) {
    out.append(piece);
    return;
  }
  std::string current(piece);
  for (const auto& [from, to] : replacements_) {
    std::string next;
    size_t last = 0;
    for (size_t pos = current.find(from); pos != std::string::npos;
         pos = current.find(from, last)) {
      next.append(current, last, pos - last).append(to);
      last = pos + from.size();
    }
    next.append(current, last);
    current = std::move(next);
  }
  out.append(current);
}

}  // namespace swiftkv
