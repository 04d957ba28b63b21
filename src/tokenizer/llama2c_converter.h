// Converts a llama2.c tokenizer (.bin) into Hugging Face tokenizer.json / tokenizer_config.json
// of the transformers LlamaConverter form (SentencePiece-style BPE with byte fallback), which
// Tokenizer loads.
//
// Input format (llama2.c tokenizer.py export): uint32 max_token_length, then per token
// {float32 score, uint32 len, len bytes}, little-endian, until the end of the file. Pieces
// have "▁" (U+2581) replaced by " "; id 0 is "<unk>", ids 1 and 2 are "\n<s>\n" and "\n</s>\n"
// (written here as the special tokens <s> and </s>), "<0x00>".."<0xFF>" are byte tokens.
//
// Merges reproduce SentencePiece BPE (merge the adjacent pair whose merged piece has the
// highest score, leftmost first): every way to split a normal piece into two normal pieces is a
// merge, ranked by the merged piece's score (descending), then its id, then (left id, right id),
// the order of transformers' SentencePieceExtractor. Control and byte tokens are never merge
// inputs or outputs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace swiftkv {

// The tokenizer.json of the llama2.c tokenizer at `bin_path`. Throws Error naming the file and
// the problem (truncated record, absurd length, duplicate piece, missing control tokens).
nlohmann::json llama2c_tokenizer_to_hf_json(const std::string& bin_path);

// The matching tokenizer_config.json: bos <s>, eos </s>, unk <unk>, add_bos_token true,
// add_eos_token false, no chat template.
nlohmann::json llama2c_tokenizer_config_json();

// Writes both files into `out_dir` (created if needed). Throws Error on failure.
void write_hf_tokenizer_files(const std::string& bin_path, const std::string& out_dir);

}  // namespace swiftkv
