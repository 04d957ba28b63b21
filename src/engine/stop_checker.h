// Stop strings over streamed text: finds the first stop string in the generated text (even
// when it spans token boundaries) and holds back text that could still become one, so the
// stream never shows a stop string or anything after it (OpenAI semantics: excluded).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace swiftkv {

class StopChecker {
 public:
  explicit StopChecker(std::vector<std::string> stop_strings);

  // Appends newly decoded text. Returns the text that is now safe to emit.
  std::string append(std::string_view text);
  // True once a stop string was seen; the text is cut before it.
  bool stopped() const { return stopped_; }
  // Everything not yet emitted (call at the end of generation when no stop string matched).
  std::string flush();
  // All text accepted so far, cut at the stop string.
  const std::string& text() const { return text_; }

 private:
  std::vector<std::string> stop_strings_;
  size_t max_stop_length_ = 0;
  std::string text_;
  size_t emitted_ = 0;
  bool stopped_ = false;
};

}  // namespace swiftkv
