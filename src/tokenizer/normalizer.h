// The normalizer of tokenizer.json, applied to each text segment between added tokens.
//
// Supported (what Llama-family files use): null, Sequence, Prepend (only on a non-empty
// segment, like tokenizers' Prepend), Replace with a String or Regex pattern. Anything else is
// rejected at load time with an Error naming the type. Immutable; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace swiftkv {

class Normalizer {
 public:
  // Parses the "normalizer" value (null gives the identity). Throws Error on unsupported types.
  static Normalizer from_json(const nlohmann::json& config);

  bool is_identity() const { return steps_.empty(); }
  std::string apply(std::string_view text) const;

 private:
  struct Step {
    enum class Kind { kPrepend, kReplace };
    Kind kind;
    std::string text;            // Prepend: the prefix; Replace: the replacement
    std::string literal;         // Replace with a String pattern
    std::optional<Regex> regex;  // Replace with a Regex pattern
  };
  static void parse_into(const nlohmann::json& config, std::vector<Step>& steps);
  std::vector<Step> steps_;
};

}  // namespace swiftkv
