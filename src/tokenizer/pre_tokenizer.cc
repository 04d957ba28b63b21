// tokenizer.json pre-tokenizers; see pre_tokenizer.h.
#include "tokenizer/pre_tokenizer.h"

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_fields.h"

namespace swiftkv {
namespace {

namespace jf = json_fields;

// The GPT-2 pattern that ByteLevel(use_regex=true) splits with (tokenizers byte_level.rs).
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Literal occurrences of `needle` in `text` as matches.
std::vector<Regex::Match> find_literal(std::string_view text, std::string_view needle) {
  std::vector<Regex::Match> matches;
  for (size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    matches.push_back({pos, pos + needle.size()});
  }
  return matches;
}

}  // namespace

void PreTokenizer::parse_into(const nlohmann::json& config, std::vector<Step>& steps) {
  const std::string type = jf::require_string(config, "type", "pre_tokenizer");
  if (type == "Sequence") {
    const nlohmann::json& list = jf::require(config, "pretokenizers", "pre_tokenizer Sequence");
    if (!list.is_array()) throw Error("pre_tokenizer Sequence: 'pretokenizers' must be an array");
    for (const auto& item : list) parse_into(item, steps);
  } else if (type == "Split") {
    Step step;
    step.kind = Kind::kSplit;
    const nlohmann::json& pattern = jf::require(config, "pattern", "pre_tokenizer Split");
    if (jf::has(pattern, "Regex")) {
      step.regex.emplace(jf::require_string(pattern, "Regex", "pre_tokenizer Split pattern"));
    } else if (jf::has(pattern, "String")) {
      step.literal = jf::require_string(pattern, "String", "pre_tokenizer Split pattern");
      if (step.literal.empty()) throw Error("pre_tokenizer Split: empty String pattern");
    } else {
      throw Error("pre_tokenizer Split: pattern must have 'Regex' or 'String'");
    }
    const std::string behavior = jf::require_string(config, "behavior", "pre_tokenizer Split");
    if (behavior == "Isolated") {
      step.behavior = Behavior::kIsolated;
    } else if (behavior == "Removed") {
      step.behavior = Behavior::kRemoved;
    } else if (behavior == "MergedWithPrevious") {
      step.behavior = Behavior::kMergedWithPrevious;
    } else if (behavior == "MergedWithNext") {
      step.behavior = Behavior::kMergedWithNext;
    } else {
      throw Error(str_cat("pre_tokenizer Split: unsupported behavior '", behavior, "'"));
    }
    step.invert = jf::get_bool(config, "invert", false, "pre_tokenizer Split");
    steps.push_back(std::move(step));
  } else if (type == "ByteLevel") {
    Step step;
    step.kind = Kind::kByteLevel;
    step.add_prefix_space = jf::get_bool(config, "add_prefix_space", false, "ByteLevel");
    if (jf::get_bool(config, "use_regex", true, "pre_tokenizer ByteLevel")) {
      step.regex.emplace(kGpt2Pattern);
    }
    steps.push_back(std::move(step));
  } else if (type == "Metaspace") {
    Step step;
    step.kind = Kind::kMetaspace;
    step.replacement = jf::has(config, "replacement")
                           ? jf::require_string(config, "replacement", "pre_tokenizer Metaspace")
                           : "\u2581";
    if (step.replacement.empty()) throw Error("pre_tokenizer Metaspace: empty replacement");
    if (jf::has(config, "prepend_scheme")) {
      const std::string scheme =
          jf::require_string(config, "prepend_scheme", "pre_tokenizer Metaspace");
      if (scheme == "always") {
        step.prepend_scheme = PrependScheme::kAlways;
      } else if (scheme == "first") {
        step.prepend_scheme = PrependScheme::kFirst;
      } else if (scheme == "never") {
        step.prepend_scheme = PrependScheme::kNever;
      } else {
        throw Error(str_cat("pre_tokenizer Metaspace: unknown prepend_scheme '", scheme, "'"));
      }
    } else {  // older files: add_prefix_space
      step.prepend_scheme =
          jf::get_bool(config, "add_prefix_space", true, "pre_tokenizer Metaspace")
              ? PrependScheme::kAlways
              : PrependScheme::kNever;
    }
    step.split_on_replacement = jf::get_bool(config, "split", true, "pre_tokenizer Metaspace");
    steps.push_back(std::move(step));
  } else {
    throw Error(str_cat("unsupported pre_tokenizer type '", type, "'"));
  }
}

PreTokenizer PreTokenizer::from_json(const nlohmann::json& config) {
  PreTokenizer pre;
  if (!config.is_null()) parse_into(config, pre.steps_);
  return pre;
}

bool PreTokenizer::has_byte_level() const {
  for (const Step& s : steps_) {
    if (s.kind == Kind::kByteLevel) return true;
  }
  return false;
}

void PreTokenizer::apply_split(const Step& step, std::string_view piece,
                               std::vector<std::string>& out) {
  const std::vector<Regex::Match> matches =
      step.regex ? step.regex->find_all(piece) : find_literal(piece, step.literal);
  // Alternating gaps and matches; `invert` swaps which of the two is "the match".
  struct Part {
    size_t begin;
    size_t end;
    bool is_match;
  };
  std::vector<Part> parts;
  size_t last = 0;
  for (const Regex::Match& m : matches) {
    if (m.begin > last) parts.push_back({last, m.begin, step.invert});
    parts.push_back({m.begin, m.end, !step.invert});
    last = m.end;
  }
  if (last < piece.size()) parts.push_back({last, piece.size(), step.invert});

  const size_t first_out = out.size();
  std::string pending;  // MergedWithNext: a match waiting for the part after it
  bool have_pending = false;
  for (const Part& part : parts) {
    const std::string_view text = piece.substr(part.begin, part.end - part.begin);
    switch (step.behavior) {
      case Behavior::kIsolated:
        out.emplace_back(text);
        break;
      case Behavior::kRemoved:
        if (!part.is_match) out.emplace_back(text);
        break;
      case Behavior::kMergedWithPrevious:
        if (part.is_match && out.size() > first_out) {
          out.back().append(text);
        } else {
          out.emplace_back(text);
        }
        break;
      case Behavior::kMergedWithNext:
        if (part.is_match) {
          if (have_pending) out.push_back(std::move(pending));
          pending.assign(text);
          have_pending = true;
        } else if (have_pending) {
          pending.append(text);
          out.push_back(std::move(pending));
          pending.clear();
          have_pending = false;
        } else {
          out.emplace_back(text);
        }
        break;
    }
  }
  if (have_pending) out.push_back(std::move(pending));
}

void PreTokenizer::apply_byte_level(const Step& step, std::string_view piece,
                                    std::vector<std::string>& out) {
  std::string prefixed;
  if (step.add_prefix_space && !piece.starts_with(' ')) {
    prefixed = " ";
    prefixed.append(piece);
    piece = prefixed;
  }
  const auto emit = [&out](std::string_view bytes) {
    std::string mapped;
    mapped.reserve(bytes.size() * 2);
    byte_level_encode(bytes, mapped);
    out.push_back(std::move(mapped));
  };
  if (!step.regex) {
    emit(piece);
    return;
  }
  std::vector<std::string> parts;
  apply_split(step, piece, parts);
  for (const std::string& part : parts) emit(part);
}

void PreTokenizer::apply_metaspace(const Step& step, std::string_view piece, bool first,
                                   std::vector<std::string>& out) {
  std::string text;
  text.reserve(piece.size() + step.replacement.size());
  const bool prepend = step.prepend_scheme == PrependScheme::kAlways ||
                       (step.prepend_scheme == PrependScheme::kFirst && first);
  if (prepend && !piece.starts_with(step.replacement) && !piece.starts_with(' ')) {
    text.append(step.replacement);
  }
  for (const char c : piece) {
    if (c == ' ') {
      text.append(step.replacement);
    } else {
      text.push_back(c);
    }
  }
  if (!step.split_on_replacement) {
    out.push_back(std::move(text));
    return;
  }
  // Split before every replacement character (MergedWithNext).
  size_t start = 0;
  for (size_t pos = text.find(step.replacement, 1); pos != std::string::npos;
       pos = text.find(step.replacement, pos + step.replacement.size())) {
    out.push_back(text.substr(start, pos - start));
    start = pos;
  }
  if (start < text.size()) out.push_back(text.substr(start));
}

void PreTokenizer::split(std::string_view text, bool at_text_start,
                         std::vector<std::string>& out) const {
  if (text.empty()) return;
  std::vector<std::string> current{std::string(text)};
  std::vector<std::string> next;
  for (const Step& step : steps_) {
    next.clear();
    for (size_t i = 0; i < current.size(); ++i) {
      switch (step.kind) {
        case Kind::kSplit:
          apply_split(step, current[i], next);
          break;
        case Kind::kByteLevel:
          apply_byte_level(step, current[i], next);
          break;
        case Kind::kMetaspace:
          apply_metaspace(step, current[i], at_text_start && i == 0, next);
          break;
      }
    }
    std::swap(current, next);
  }
  for (std::string& piece : current) {
    if (!piece.empty()) out.push_back(std::move(piece));
  }
}

}  // namespace swiftkv
