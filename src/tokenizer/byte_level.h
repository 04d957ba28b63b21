// The GPT-2 byte <-> unicode mapping used by byte-level BPE (Llama 3).
//
// Every byte 0..255 maps to one printable code point (openai/gpt-2 encoder.py, bytes_to_unicode;
// the same table as Hugging Face tokenizers' ByteLevel pre-tokenizer and decoder): printable
// Latin-1 bytes map to themselves, the 68 others to U+0100.. in byte order. Pure functions over
// constant tables; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace swiftkv {

// Appends the mapped characters of every byte of `bytes` to `out` (UTF-8).
void byte_level_encode(std::string_view bytes, std::string& out);

// Maps the characters of `text` (UTF-8 of mapped code points) back to bytes, appending to `out`.
// Returns false, appending nothing, when a character is outside the mapping (the Hugging Face
// decoder then keeps the token's raw UTF-8).
bool byte_level_decode(std::string_view text, std::string& out);

// The code point that byte `b` maps to.
char32_t byte_to_code_point(uint8_t b);

}  // namespace swiftkv
