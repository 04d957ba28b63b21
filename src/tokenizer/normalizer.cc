// tokenizer.json normalizers; see normalizer.h.
#include "tokenizer/normalizer.h"

#include "core/error.h"
#include "tokenizer/json_fields.h"

namespace swiftkv {

namespace jf = json_fields;

void Normalizer::parse_into(const nlohmann::json& config, std::vector<Step>& steps) {
  const std::string type = jf::require_string(config, "type", "normalizer");
  if (type == "Sequence") {
    const nlohmann::json& list = jf::require(config, "normalizers", "normalizer Sequence");
    if (!list.is_array()) throw Error("normalizer Sequence: 'normalizers' must be an array");
    for (const auto& item : list) parse_into(item, steps);
  } else if (type == "Prepend") {
    steps.push_back(
        {Step::Kind::kPrepend, jf::require_string(config, "prepend", "Prepend"), {}, {}});
  } else if (type == "Replace") {
    Step step{Step::Kind::kReplace, jf::require_string(config, "content", "Replace"), {}, {}};
    const nlohmann::json& pattern = jf::require(config, "pattern", "normalizer Replace");
    if (jf::has(pattern, "String")) {
      step.literal = jf::require_string(pattern, "String", "normalizer Replace pattern");
      if (step.literal.empty()) throw Error("normalizer Replace: empty String pattern");
    } else if (jf::has(pattern, "Regex")) {
      step.regex.emplace(jf::require_string(pattern, "Regex", "normalizer Replace pattern"));
    } else {
      throw Error("normalizer Replace: pattern must have 'String' or 'Regex'");
    }
    steps.push_back(std::move(step));
  } else {
    throw Error(str_cat("unsupported normalizer type '", type, "'"));
  }
}

Normalizer Normalizer::from_json(const nlohmann::json& config) {
  Normalizer normalizer;
  if (!config.is_null()) parse_into(config, normalizer.steps_);
  return normalizer;
}

std::string Normalizer::apply(std::string_view text) const {
  std::string current(text);
  for (const Step& step : steps_) {
    if (step.kind == Step::Kind::kPrepend) {
      if (!current.empty()) current.insert(0, step.text);
      continue;
    }
    std::string next;
    next.reserve(current.size());
    if (step.regex) {
      size_t last = 0;
      for (const Regex::Match& m : step.regex->find_all(current)) {
        next.append(current, last, m.begin - last).append(step.text);
        last = m.end;
      }
      next.append(current, last);
    } else {
      size_t last = 0;
      for (size_t pos = current.find(step.literal); pos != std::string::npos;
           pos = current.find(step.literal, last)) {
        next.append(current, last, pos - last).append(step.text);
        last = pos + step.literal.size();
      }
      next.append(current, last);
    }
    current = std::move(next);
  }
  return current;
}

}  // namespace swiftkv
