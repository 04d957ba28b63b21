// SSE parsing; see sse_parser.h (the event-stream format of the HTML standard, minus id/retry).
#include "server/bench/sse_parser.h"

namespace swiftkv::bench {

void SseParser::feed(std::string_view bytes) {
  buffer_.append(bytes);
  size_t start = 0;
  for (size_t pos; (pos = buffer_.find('\n', start)) != std::string::npos; start = pos + 1) {
    std::string_view text(buffer_.data() + start, pos - start);
    if (!text.empty() && text.back() == '\r') {
      text.remove_suffix(1);
    }
    line(text);
  }
  buffer_.erase(0, start);
}

void SseParser::finish() {
  if (!buffer_.empty()) {
    const std::string rest = std::move(buffer_);
    buffer_.clear();
    line(rest);
  }
  dispatch();
}

void SseParser::line(std::string_view text) {
  if (text.empty()) {
    dispatch();
    return;
  }
  if (text.front() == ':') {
    return;  // comment / keep-alive
  }
  const size_t colon = text.find(':');
  const std::string_view field = text.substr(0, colon);
  if (field != "data") {
    return;
  }
  std::string_view value =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  if (has_data_) {
    data_ += '\n';
  }
  data_.append(value);
  has_data_ = true;
}

void SseParser::dispatch() {
  if (!has_data_) {
    return;
  }
  const std::string data = std::move(data_);
  data_.clear();
  has_data_ = false;
  on_data_(data);
}

}  // namespace swiftkv::bench
