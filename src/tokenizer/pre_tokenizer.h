// The pre-tokenizer of tokenizer.json: splits a normalized text segment into pre-tokens, each
// of which the BPE model encodes on its own.
//
// Supported (Llama-family files): null (the whole segment is one pre-token), Sequence, Split
// (Regex or String pattern; behaviours Isolated, Removed, MergedWithPrevious, MergedWithNext;
// invert), ByteLevel (add_prefix_space, use_regex with the GPT-2 pattern; maps bytes to the GPT-2
// characters) and Metaspace (replacement, prepend_scheme always/first/never, split). Semantics
// follow Hugging Face tokenizers (pre_tokenizers/*.rs). Unsupported types are an Error at load.
// Immutable; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace swiftkv {

class PreTokenizer {
 public:
  // Parses the "pre_tokenizer" value (null gives no splitting). Throws Error when unsupported.
  static PreTokenizer from_json(const nlohmann::json& config);

  // Appends the pre-tokens of `text` to `out`. `at_text_start`: the segment starts at offset 0
  // of the encoded text (Metaspace prepend_scheme "first" prepends only there).
  void split(std::string_view text, bool at_text_start, std::vector<std::string>& out) const;

  bool has_byte_level() const;

 private:
  enum class Behavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext };
  enum class PrependScheme { kAlways, kFirst, kNever };
  enum class Kind { kSplit, kByteLevel, kMetaspace };
  struct Step {
    Kind kind = Kind::kSplit;
    // Split (and ByteLevel with use_regex, which uses the GPT-2 pattern, Isolated).
    std::optional<Regex> regex;
    std::string literal;
    Behavior behavior = Behavior::kIsolated;
    bool invert = false;
    // ByteLevel
    bool add_prefix_space = false;
    // Metaspace
    std::string replacement;
    PrependScheme prepend_scheme = PrependScheme::kAlways;
    bool split_on_replacement = false;
  };
  static void parse_into(const nlohmann::json& config, std::vector<Step>& steps);
  static void apply_split(const Step& step, std::string_view piece, std::vector<std::string>& out);
  static void apply_byte_level(const Step& step, std::string_view piece,
                               std::vector<std::string>& out);
  static void apply_metaspace(const Step& step, std::string_view piece, bool first,
                              std::vector<std::string>& out);

  std::vector<Step> steps_;
};

}  // namespace swiftkv
