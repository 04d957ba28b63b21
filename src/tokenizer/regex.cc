// PCRE2 wrapper; see regex.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/regex.h"

#include <pcre2.h>

#include "core/error.h"

namespace swiftkv {
namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  return n < 0 ? str_cat("PCRE2 error ", code) : std::string(reinterpret_cast<char*>(buffer));
}

}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

Regex::Regex(std::string_view pattern) : pattern_(pattern), code_(std::make_unique<Code>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                              PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code_->code == nullptr) {
    throw Error(str_cat("invalid regex '", pattern_, "': ", pcre2_message(error_code),
                        " at offset ", error_offset));
  }
  // JIT is an optimisation only: if it is unavailable, pcre2_match interprets the pattern.
  (void)pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::vector<Regex::Match> Regex::find_all(std::string_view subject) const {
  std::vector<Match> matches;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(code_->code, nullptr), &pcre2_match_data_free);
  SWIFTKV_CHECK(data != nullptr, "pcre2_match_data_create_from_pattern failed");
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t offset = 0;
  while (offset <= subject.size()) {
    const int rc = pcre2_match(code_->code, text, subject.size(), offset, PCRE2_NO_UTF_CHECK,
                               data.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      throw Error(str_cat("regex '", pattern_, "' failed: ", pcre2_message(rc)));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data.get());
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (end > begin) {
      matches.push_back({begin, end});
      offset = end;
      continue;
    }
    // Empty match: skip one whole character.
    if (begin >= subject.size()) break;
    offset = begin + 1;
    while (offset < subject.size() &&
           (static_cast<unsigned char>(subject[offset]) & 0xC0) == 0x80) {
      ++offset;
    }
  }
  return matches;
}

}  // namespace swiftkv
