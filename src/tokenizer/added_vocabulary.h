// Added tokens of tokenizer.json ("added_tokens"): matched in the raw text before the
// normalizer and the model run, like Hugging Face's AddedVocabulary.
//
// Matching is leftmost-longest over all added tokens (special or not). Options: lstrip / rstrip
// absorb the whitespace (ASCII) on that side into the token; single_word only matches when the
// neighbouring characters are not word characters (ASCII alphanumerics, '_' and any non-ASCII
// byte). `normalized: true` tokens are matched in the raw text too (Hugging Face matches them
// in normalized text; Llama 2/3 files only have normalized: false). Cost: O(text bytes x
// candidates sharing the first byte). Immutable after finalize(); thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace swiftkv {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
  bool normalized = false;
};

class AddedVocabulary {
 public:
  // A piece of the text: either plain text [begin, end) or an added token id.
  struct Segment {
    size_t begin;
    size_t end;
    int32_t token_id;  // -1 for plain text
  };

  // Throws Error on empty content, a negative id, or content/id already added.
  void add(AddedToken token);
  void finalize();

  std::vector<Segment> split(std::string_view text) const;

  const AddedToken* find_by_id(int32_t id) const;
  std::optional<int32_t> find_by_content(std::string_view content) const;
  // One past the largest added id (0 when none).
  int32_t id_end() const { return id_end_; }
  size_t size() const { return tokens_.size(); }

 private:
  bool matches_at(const AddedToken& token, std::string_view text, size_t pos) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  std::array<std::vector<size_t>, 256> by_first_byte_;  // longest first
  int32_t id_end_ = 0;
};

}  // namespace swiftkv
