#include "engine/stop_checker.h"

#include <algorithm>

namespace swiftkv {

StopChecker::StopChecker(std::vector<std::string> stop_strings)
    : stop_strings_(std::move(stop_strings)) {
  for (const std::string& s : stop_strings_) {
    max_stop_length_ = std::max(max_stop_length_, s.size());
  }
}

std::string StopChecker::append(std::string_view text) {
  if (stopped_) {
    return {};
  }
  // A match can start at most max_stop_length_ - 1 bytes before the new text.
  const size_t search_from =
      text_.size() >= max_stop_length_ ? text_.size() - max_stop_length_ + 1 : 0;
  text_.append(text);
  size_t first_match = std::string::npos;
  for (const std::string& stop : stop_strings_) {
    first_match = std::min(first_match, text_.find(stop, search_from));
  }
  if (first_match != std::string::npos) {
    stopped_ = true;
    text_.resize(first_match);
    return flush();
  }
  // Hold back the longest suffix of the text that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& stop : stop_strings_) {
    for (size_t n = std::min(stop.size() - 1, text_.size()); n > hold; --n) {
      if (std::string_view(text_).substr(text_.size() - n) == std::string_view(stop).substr(0, n)) {
        hold = n;
        break;
      }
    }
  }
  const size_t safe_end = std::max(emitted_, text_.size() - hold);
  std::string out = text_.substr(emitted_, safe_end - emitted_);
  emitted_ = safe_end;
  return out;
}

std::string StopChecker::flush() {
  std::string out = text_.substr(std::min(emitted_, text_.size()));
  emitted_ = text_.size();
  return out;
}

}  // namespace swiftkv
