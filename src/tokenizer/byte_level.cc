// GPT-2 bytes_to_unicode tables; see byte_level.h.
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace swiftkv {
namespace {

constexpr bool maps_to_itself(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct Tables {
  std::array<char32_t, 256> to_code_point{};
  std::array<int16_t, 512> to_byte{};           // indexed by code point; -1 when unmapped
  std::array<std::array<char, 2>, 256> utf8{};  // every mapped code point is < U+0800: 2 bytes max
  std::array<uint8_t, 256> utf8_len{};
};

constexpr Tables make_tables() {
  Tables t;
  for (auto& v : t.to_byte) v = -1;
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = maps_to_itself(b) ? static_cast<char32_t>(b) : 256 + next++;
    t.to_code_point[b] = cp;
    t.to_byte[cp] = static_cast<int16_t>(b);
    if (cp < 0x80) {
      t.utf8[b] = {static_cast<char>(cp), 0};
      t.utf8_len[b] = 1;
    } else {
      t.utf8[b] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
      t.utf8_len[b] = 2;
    }
  }
  return t;
}

constexpr Tables kTables = make_tables();

}  // namespace

char32_t byte_to_code_point(uint8_t b) { return kTables.to_code_point[b]; }

void byte_level_encode(std::string_view bytes, std::string& out) {
  for (const char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out.append(kTables.utf8[b].data(), kTables.utf8_len[b]);
  }
}

bool byte_level_decode(std::string_view text, std::string& out) {
  const size_t start = out.size();
  size_t pos = 0;
  while (pos < text.size()) {
    if (utf8::sequence_length(text, pos) == 0) break;
    const char32_t cp = utf8::decode_at(text, pos);
    if (cp >= kTables.to_byte.size() || kTables.to_byte[cp] < 0) {
      out.resize(start);
      return false;
    }
    out.push_back(static_cast<char>(kTables.to_byte[cp]));
  }
  if (pos != text.size()) {
    out.resize(start);
    return false;
  }
  return true;
}

}  // namespace swiftkv
