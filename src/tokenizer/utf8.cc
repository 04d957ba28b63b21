// UTF-8 helpers; see utf8.h for the lossy-conversion rule.
#include "tokenizer/utf8.h"

#include "core/error.h"

namespace swiftkv::utf8 {
namespace {

// Number of continuation bytes a lead byte announces and the allowed range of the first one
// (Unicode Table 3-7, Well-Formed UTF-8 Byte Sequences). need == -1 marks an invalid lead byte.
struct LeadInfo {
  int need;
  unsigned char lo;
  unsigned char hi;
};

LeadInfo lead_info(unsigned char b) {
  if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF};
  if (b == 0xE0) return {2, 0xA0, 0xBF};
  if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return {2, 0x80, 0xBF};
  if (b == 0xED) return {2, 0x80, 0x9F};
  if (b == 0xF0) return {3, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {3, 0x80, 0xBF};
  if (b == 0xF4) return {3, 0x80, 0x8F};
  return {-1, 0, 0};
}

enum class ScanResult { kComplete, kIllFormed, kTruncated };

// Scans the sequence at s[pos]; `end` receives the end of the complete sequence, or of the
// maximal ill-formed subpart (at least one byte), or s.size() when truncated.
ScanResult scan(std::string_view s, size_t pos, size_t& end) {
  const auto b = static_cast<unsigned char>(s[pos]);
  if (b < 0x80) {
    end = pos + 1;
    return ScanResult::kComplete;
  }
  const LeadInfo info = lead_info(b);
  if (info.need < 0) {
    end = pos + 1;
    return ScanResult::kIllFormed;
  }
  size_t j = pos + 1;
  for (int k = 0; k < info.need; ++k, ++j) {
    if (j >= s.size()) {
      end = s.size();
      return ScanResult::kTruncated;
    }
    const auto c = static_cast<unsigned char>(s[j]);
    const unsigned char lo = k == 0 ? info.lo : 0x80;
    const unsigned char hi = k == 0 ? info.hi : 0xBF;
    if (c < lo || c > hi) {
      end = j;
      return ScanResult::kIllFormed;
    }
  }
  end = j;
  return ScanResult::kComplete;
}

// Converts s[0, size) into out; returns the offset where a truncated tail starts (s.size() if
// none). With `flush_truncated`, a truncated tail is emitted as U+FFFD instead.
size_t convert(std::string_view s, std::string& out, bool flush_truncated) {
  size_t pos = 0;
  while (pos < s.size()) {
    size_t end = pos;
    switch (scan(s, pos, end)) {
      case ScanResult::kComplete:
        out.append(s.substr(pos, end - pos));
        break;
      case ScanResult::kIllFormed:
        out.append(kReplacementChar);
        break;
      case ScanResult::kTruncated:
        if (!flush_truncated) return pos;
        out.append(kReplacementChar);
        break;
    }
    pos = end;
  }
  return s.size();
}

}  // namespace

size_t sequence_length(std::string_view s, size_t pos) {
  SWIFTKV_CHECK(pos < s.size(), "pos=", pos, " size=", s.size());
  size_t end = pos;
  return scan(s, pos, end) == ScanResult::kComplete ? end - pos : 0;
}

bool is_valid(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t n = sequence_length(s, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

void append_code_point(std::string& out, char32_t cp) {
  SWIFTKV_CHECK(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF), "code point ",
                static_cast<uint32_t>(cp));
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t decode_at(std::string_view s, size_t& pos) {
  const size_t n = sequence_length(s, pos);
  SWIFTKV_CHECK(n > 0, "ill-formed UTF-8 at byte ", pos);
  const auto b0 = static_cast<unsigned char>(s[pos]);
  char32_t cp = n == 1 ? b0 : n == 2 ? (b0 & 0x1F) : n == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3F);
  pos += n;
  return cp;
}

std::string to_valid_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  convert(s, out, /*flush_truncated=*/true);
  return out;
}

void LossyDecoder::feed(std::string_view bytes, std::string& out) {
  if (pending_.empty()) {
    const size_t tail = convert(bytes, out, /*flush_truncated=*/false);
    pending_.assign(bytes.substr(tail));
    return;
  }
  pending_.append(bytes);
  const std::string buffer = std::move(pending_);
  const size_t tail = convert(buffer, out, /*flush_truncated=*/false);
  pending_.assign(std::string_view(buffer).substr(tail));
}

void LossyDecoder::finish(std::string& out) {
  if (!pending_.empty()) out.append(kReplacementChar);
  pending_.clear();
}

}  // namespace swiftkv::utf8
