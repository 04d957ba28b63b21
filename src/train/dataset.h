// Distillation data (DESIGN.md §6): documents from JSONL or plain text, tokenized with a loss
// mask, split into train / held-out sets, and packed into fixed-length rows.
//
// Input formats, one document per JSONL line:
//   {"messages": [{"role": ..., "content": ...}, ...]}  chat; the tokenizer's chat template is
//       applied and only assistant tokens are response tokens (loss targets);
//   {"text": "..."}                                       plain text; every token is a response;
//   {"prompt": "...", "response": "..."}                  completion; only the response counts;
//   {"prompt": "..."}                                     prompt only: needs responses first
//       (response_generation.h writes them with the teacher).
// A file not ending in .jsonl is plain text: one document per paragraph (blank-line separated).
//
// Packing: documents are laid out whole, in order, into rows of `max_length` tokens (a document
// that does not fit in the rest of a row starts a new one; a longer document is cut into
// max_length pieces). Every document keeps its own positions (from 0) and attends only to
// itself (segment ids), so a packed row computes exactly what the engine computes per request.
// Shuffling is deterministic: a fixed-seed std::mt19937_64 with our own Fisher-Yates.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace swiftkv {

class Tokenizer;

// One raw document before tokenization.
struct RawDocument {
  enum class Kind { kText, kCompletion, kChat };
  Kind kind = Kind::kText;
  std::string text;             // kText
  std::string prompt;           // kCompletion
  std::string response;         // kCompletion; empty with has_response false = prompt only
  bool has_response = false;    // kCompletion
  std::string messages_json;    // kChat: the "messages" array, serialised
  bool ends_with_user = false;  // kChat: last message is not the assistant's (prompt only)
  bool needs_response() const;
};

// Reads `path` (JSONL or plain text, see above); throws Error naming the file and line.
std::vector<RawDocument> read_documents(const std::string& path);

// A tokenized document: response[i] says whether token i is a response token.
struct TokenizedDocument {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> response;
};

// Tokenizes with BOS (add_special_tokens) for text and completions, the chat template for chat
// (which writes BOS itself). Prompt-only documents are an Error (generate responses first).
TokenizedDocument tokenize_document(const RawDocument& document, const Tokenizer& tokenizer);

// One packed row; all vectors have max_length entries.
struct PackedRow {
  std::vector<int32_t> tokens;     // padding: 0
  std::vector<int32_t> positions;  // position within its document
  std::vector<int32_t> segments;   // document index within the row; padding: -1
  // 1 where the logits at t predict a response token of the same document (t + 1 is one).
  std::vector<uint8_t> loss_mask;
  int64_t num_tokens = 0;  // non-padding tokens
};

std::vector<PackedRow> pack_documents(const std::vector<TokenizedDocument>& documents,
                                      int64_t max_length);

// Deterministic permutation of [0, n) for `seed`.
std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed);

struct DatasetSplit {
  std::vector<TokenizedDocument> train;
  std::vector<TokenizedDocument> held_out;
};

// Shuffles `documents` with `seed` and puts the last round(n * held_out_fraction) (at least one
// when the fraction is positive and n > 1) into held_out.
DatasetSplit split_documents(std::vector<TokenizedDocument> documents, double held_out_fraction,
                             uint64_t seed);

// Writes documents back as JSONL (the reusable output of response generation).
void write_documents_jsonl(const std::string& path, const std::vector<RawDocument>& documents);

}  // namespace swiftkv
