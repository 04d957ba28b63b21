// llama2.c tokenizer.bin -> tokenizer.json; see llama2c_converter.h.
#include "tokenizer/llama2c_converter.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/utf8.h"

namespace swiftkv {
namespace {

constexpr std::string_view kSpacePiece = "\u2581";
// llama2.c pieces are short (Llama 2: 27 bytes); anything past this is a corrupt header.
constexpr uint32_t kMaxPieceBytes = 1024;

struct Llama2cToken {
  std::string piece;  // with "▁" restored
  float score;
};

uint32_t read_u32(const std::string& data, size_t offset) {
  uint32_t v = 0;
  std::memcpy(&v, data.data() + offset, sizeof(v));
  return v;
}

float read_f32(const std::string& data, size_t offset) {
  float v = 0;
  std::memcpy(&v, data.data() + offset, sizeof(v));
  return v;
}

std::vector<Llama2cToken> read_llama2c_tokens(const std::string& path) {
  const std::string data = read_file(path);
  if (data.size() < 4) throw Error(str_cat(path, ": too short for a llama2.c tokenizer header"));
  const uint32_t max_token_length = read_u32(data, 0);
  if (max_token_length == 0 || max_token_length > kMaxPieceBytes) {
    throw Error(str_cat(path, ": max_token_length ", max_token_length, " is not in [1, ",
                        kMaxPieceBytes, "] (not a llama2.c tokenizer?)"));
  }
  std::vector<Llama2cToken> tokens;
  size_t offset = 4;
  while (offset < data.size()) {
    const size_t index = tokens.size();
    if (data.size() - offset < 8) {
      throw Error(str_cat(path, ": truncated record of token ", index, " at byte ", offset));
    }
    const float score = read_f32(data, offset);
    const uint32_t len = read_u32(data, offset + 4);
    offset += 8;
    if (len > max_token_length) {
      throw Error(str_cat(path, ": token ", index, " has length ", len,
                          ", more than max_token_length ", max_token_length));
    }
    if (data.size() - offset < len) {
      throw Error(
          str_cat(path, ": token ", index, " (", len, " bytes) is truncated at byte ", offset));
    }
    if (!std::isfinite(score)) throw Error(str_cat(path, ": token ", index, " has score ", score));
    std::string raw = data.substr(offset, len);
    offset += len;
    if (!utf8::is_valid(raw)) {
      throw Error(str_cat(path, ": token ", index, " is not valid UTF-8"));
    }
    std::string piece;
    for (const char c : raw) {
      if (c == ' ') {
        piece.append(kSpacePiece);
      } else {
        piece.push_back(c);
      }
    }
    tokens.push_back({std::move(piece), score});
  }
  if (tokens.size() < 3 + 256) {
    throw Error(str_cat(path, ": only ", tokens.size(),
                        " tokens (expected <unk>, <s>, </s> and 256 byte tokens at least)"));
  }
  const std::string_view expected[] = {"<unk>", "\n<s>\n", "\n</s>\n"};
  const std::string_view names[] = {"<unk>", "<s>", "</s>"};
  for (int i = 0; i < 3; ++i) {
    if (tokens[i].piece != expected[i]) {
      throw Error(str_cat(path, ": token ", i, " is '", tokens[i].piece, "', expected the ",
                          names[i], " control token"));
    }
    tokens[i].piece = names[i];
  }
  return tokens;
}

bool is_byte_piece(std::string_view piece) {
  return piece.size() == 6 && piece.starts_with("<0x") && piece.back() == '>';
}

}  // namespace

nlohmann::json llama2c_tokenizer_to_hf_json(const std::string& bin_path) {
  const std::vector<Llama2cToken> tokens = read_llama2c_tokens(bin_path);
  const auto num_tokens = static_cast<int32_t>(tokens.size());

  // Normal pieces: everything but the control tokens (0..2) and the byte tokens.
  std::unordered_map<std::string_view, int32_t> normal;
  nlohmann::json vocab = nlohmann::json::object();
  for (int32_t id = 0; id < num_tokens; ++id) {
    const std::string& piece = tokens[id].piece;
    if (vocab.contains(piece)) {
      throw Error(str_cat(bin_path, ": piece '", piece, "' appears twice (ids ",
                          vocab[piece].get<int32_t>(), " and ", id, ")"));
    }
    vocab[piece] = id;
    if (id >= 3 && !is_byte_piece(piece)) normal.emplace(piece, id);
  }

  struct Merge {
    int32_t merged;
    int32_t left;
    int32_t right;
    size_t split;  // byte offset of the split in the merged piece
  };
  std::vector<Merge> merges;
  for (const auto& [piece, id] : normal) {
    for (size_t split = utf8::sequence_length(piece, 0); split < piece.size();
         split += utf8::sequence_length(piece, split)) {
      const auto left = normal.find(piece.substr(0, split));
      const auto right = normal.find(piece.substr(split));
      if (left != normal.end() && right != normal.end()) {
        merges.push_back({id, left->second, right->second, split});
      }
    }
  }
  std::sort(merges.begin(), merges.end(), [&tokens](const Merge& a, const Merge& b) {
    if (tokens[a.merged].score != tokens[b.merged].score) {
      return tokens[a.merged].score > tokens[b.merged].score;
    }
    if (a.merged != b.merged) return a.merged < b.merged;
    if (a.left != b.left) return a.left < b.left;
    return a.right < b.right;
  });
  nlohmann::json merge_list = nlohmann::json::array();
  for (const Merge& m : merges) {
    const std::string& piece = tokens[m.merged].piece;
    merge_list.push_back({piece.substr(0, m.split), piece.substr(m.split)});
  }

  nlohmann::json added = nlohmann::json::array();
  for (int32_t id = 0; id < 3; ++id) {
    added.push_back({{"id", id},
                     {"content", tokens[id].piece},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  const std::string space(kSpacePiece);
  nlohmann::json out;
  out["version"] = "1.0";
  out["truncation"] = nullptr;
  out["padding"] = nullptr;
  out["added_tokens"] = std::move(added);
  out["normalizer"] = {
      {"type", "Sequence"},
      {"normalizers",
       {{{"type", "Prepend"}, {"prepend", space}},
        {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", space}}}}};
  out["pre_tokenizer"] = nullptr;
  out["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"pair",
       {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
        {{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}},
        {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
      {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}};
  out["decoder"] = {{"type", "Sequence"},
                    {"decoders",
                     {{{"type", "Replace"}, {"pattern", {{"String", space}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  out["model"] = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", "<unk>"},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", true},
                  {"byte_fallback", true},
                  {"ignore_merges", false},
                  {"vocab", std::move(vocab)},
                  {"merges", std::move(merge_list)}};
  return out;
}

nlohmann::json llama2c_tokenizer_config_json() {
  return {{"add_bos_token", true},
          {"add_eos_token", false},
          {"bos_token", "<s>"},
          {"eos_token", "</s>"},
          {"unk_token", "<unk>"},
          {"pad_token", nullptr},
          {"clean_up_tokenization_spaces", false},
          {"legacy", true},
          {"tokenizer_class", "LlamaTokenizer"}};
}

void write_hf_tokenizer_files(const std::string& bin_path, const std::string& out_dir) {
  const nlohmann::json tokenizer = llama2c_tokenizer_to_hf_json(bin_path);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw Error(str_cat(out_dir, ": cannot create directory: ", ec.message()));
  const std::filesystem::path dir(out_dir);
  write_file((dir / "tokenizer.json").string(), tokenizer.dump(2) + "\n");
  write_file((dir / "tokenizer_config.json").string(),
             llama2c_tokenizer_config_json().dump(2) + "\n");
}

}  // namespace swiftkv
