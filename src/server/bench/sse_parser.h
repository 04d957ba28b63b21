// Client side of server-sent events: splits a byte stream into events and hands over each
// event's `data` payload (multi-line data joined with "\n"). Comment lines (": ...") and other
// fields are skipped; "\n" and "\r\n" line ends are both accepted. Feed bytes as they arrive;
// events may span feeds. Not thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace swiftkv::bench {

class SseParser {
 public:
  using OnData = std::function<void(const std::string& data)>;

  explicit SseParser(OnData on_data) : on_data_(std::move(on_data)) {}

  void feed(std::string_view bytes);
  // Delivers a last event not terminated by a blank line.
  void finish();

 private:
  void line(std::string_view text);
  void dispatch();

  OnData on_data_;
  std::string buffer_;  // incomplete line
  std::string data_;    // data of the current event
  bool has_data_ = false;
};

}  // namespace swiftkv::bench
