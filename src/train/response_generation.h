// Teacher-written responses for prompt-only documents (`swiftkv distill --generate-responses`):
// the teacher runs on our own engine (Generator, original wiring) and its answers complete the
// documents, which are then saved as JSONL for reuse (dataset.h formats).
#pragma once

#include <cstdint>
#include <vector>

#include "train/dataset.h"

namespace swiftkv {

class LlamaModel;

struct ResponseGenerationOptions {
  int32_t max_tokens = 256;
  float temperature = 0.8F;
  float top_p = 0.95F;
  uint64_t seed = 0;  // document i samples with seed + i (reproducible, distinct)
  int threads = 0;    // CPU threads; 0 = default
};

// Fills in the response of every document that needs one (completions get `response`, chats an
// assistant message). A response ends at EOS, at a new BOS (the start of a new document, as
// llama2.c models emit) or after max_tokens. Logs progress.
void generate_responses(const LlamaModel& teacher, const Tokenizer& tokenizer,
                        std::vector<RawDocument>& documents,
                        const ResponseGenerationOptions& options);

}  // namespace swiftkv
