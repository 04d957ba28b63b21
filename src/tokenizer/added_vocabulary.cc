// Added-token matching; see added_vocabulary.h.
#include "tokenizer/added_vocabulary.h"

#include <algorithm>

#include "core/error.h"

namespace swiftkv {
namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

bool is_word_byte(char c) {
  const auto b = static_cast<unsigned char>(c);
  return b >= 0x80 || (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
         b == '_';
}

}  // namespace

void AddedVocabulary::add(AddedToken token) {
  if (token.content.empty()) throw Error(str_cat("added token ", token.id, " has empty content"));
  if (token.id < 0) {
    throw Error(str_cat("added token '", token.content, "' has negative id ", token.id));
  }
  if (by_id_.contains(token.id))
    throw Error(str_cat("added token id ", token.id, " appears twice"));
  if (by_content_.contains(token.content)) {
    throw Error(str_cat("added token '", token.content, "' appears twice"));
  }
  by_id_.emplace(token.id, tokens_.size());
  by_content_.emplace(token.content, tokens_.size());
  id_end_ = std::max(id_end_, token.id + 1);
  tokens_.push_back(std::move(token));
}

void AddedVocabulary::finalize() {
  for (auto& list : by_first_byte_) list.clear();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    by_first_byte_[static_cast<unsigned char>(tokens_[i].content[0])].push_back(i);
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [this](size_t a, size_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
}

const AddedToken* AddedVocabulary::find_by_id(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedVocabulary::find_by_content(std::string_view content) const {
  const auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

bool AddedVocabulary::matches_at(const AddedToken& token, std::string_view text, size_t pos) const {
  if (text.compare(pos, token.content.size(), token.content) != 0) return false;
  if (!token.single_word) return true;
  const size_t end = pos + token.content.size();
  const bool word_before = pos > 0 && is_word_byte(text[pos - 1]);
  const bool word_after = end < text.size() && is_word_byte(text[end]);
  return !word_before && !word_after;
}

std::vector<AddedVocabulary::Segment> AddedVocabulary::split(std::string_view text) const {
  std::vector<Segment> segments;
  size_t text_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const AddedToken* match = nullptr;
    for (const size_t index : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      if (matches_at(tokens_[index], text, pos)) {
        match = &tokens_[index];
        break;
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    size_t begin = pos;
    size_t end = pos + match->content.size();
    if (match->lstrip) {
      while (begin > text_start && is_ascii_space(text[begin - 1])) --begin;
    }
    if (match->rstrip) {
      while (end < text.size() && is_ascii_space(text[end])) ++end;
    }
    if (begin > text_start) segments.push_back({text_start, begin, -1});
    segments.push_back({begin, end, match->id});
    text_start = pos = end;
  }
  if (text_start < text.size()) segments.push_back({text_start, text.size(), -1});
  return segments;
}

}  // namespace swiftkv
