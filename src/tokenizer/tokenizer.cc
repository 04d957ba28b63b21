// Tokenizer encode/decode and accessors; loading is in tokenizer_loader.cc.
#include "tokenizer/tokenizer.h"

#include <filesystem>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/utf8.h"

namespace swiftkv {

Tokenizer::Tokenizer(std::unique_ptr<const TokenizerData> data) : data_(std::move(data)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_json(const std::string& tokenizer_json,
                               const std::string& tokenizer_config_json) {
  return Tokenizer(parse_tokenizer(tokenizer_json, tokenizer_config_json));
}

Tokenizer Tokenizer::load(const std::string& model_dir) {
  const std::filesystem::path dir(model_dir);
  const std::string json_path = (dir / "tokenizer.json").string();
  if (!std::filesystem::exists(json_path)) {
    throw Error(str_cat(json_path, ": not found (only Hugging Face tokenizer.json is supported)"));
  }
  const std::string tokenizer_json = read_file(json_path);
  const std::string config_path = (dir / "tokenizer_config.json").string();
  const std::string config_json =
      std::filesystem::exists(config_path) ? read_file(config_path) : std::string();
  try {
    return from_json(tokenizer_json, config_json);
  } catch (const Error& e) {
    throw Error(str_cat(model_dir, ": ", e.what()));
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const TokenizerData& d = *data_;
  std::string repaired;
  if (!utf8::is_valid(text)) {
    repaired = utf8::to_valid_lossy(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special_tokens) ids.insert(ids.end(), d.prefix_ids.begin(), d.prefix_ids.end());

  std::vector<std::string> pre_tokens;
  for (const AddedVocabulary::Segment& segment : d.added.split(text)) {
    if (segment.token_id >= 0) {
      ids.push_back(segment.token_id);
      continue;
    }
    const std::string_view raw = text.substr(segment.begin, segment.end - segment.begin);
    std::string normalized;
    std::string_view piece = raw;
    if (!d.normalizer.is_identity()) {
      normalized = d.normalizer.apply(raw);
      piece = normalized;
    }
    pre_tokens.clear();
    d.pre_tokenizer.split(piece, /*at_text_start=*/segment.begin == 0, pre_tokens);
    for (const std::string& pre_token : pre_tokens) d.model.encode_word(pre_token, ids);
  }

  if (add_special_tokens) ids.insert(ids.end(), d.suffix_ids.begin(), d.suffix_ids.end());
  return ids;
}

void Tokenizer::append_token_bytes(int32_t id, std::string& out) const {
  const TokenizerData& d = *data_;
  if (const AddedToken* added = d.added.find_by_id(id)) {
    out.append(added->content);
    return;
  }
  const std::string* piece = d.model.id_to_piece(id);
  if (piece == nullptr) {
    throw Error(str_cat("token id ", id, " is out of range (vocab_size ", d.vocab_size, ")"));
  }
  d.decoder.append_piece_bytes(*piece, out);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  bytes.reserve(ids.size() * 4);
  for (const int32_t id : ids) {
    if (skip_special_tokens && is_special(id)) continue;
    append_token_bytes(id, bytes);
  }
  size_t start = 0;
  const int strip = data_->decoder.strip_leading_spaces();
  while (start < bytes.size() && static_cast<int>(start) < strip && bytes[start] == ' ') ++start;
  return utf8::to_valid_lossy(std::string_view(bytes).substr(start));
}

int32_t Tokenizer::vocab_size() const { return data_->vocab_size; }
TokenizerKind Tokenizer::kind() const { return data_->kind; }
std::optional<int32_t> Tokenizer::bos_id() const { return data_->bos_id; }
const std::vector<int32_t>& Tokenizer::eos_ids() const { return data_->eos_ids; }
const std::vector<int32_t>& Tokenizer::prefix_ids() const { return data_->prefix_ids; }
const std::vector<int32_t>& Tokenizer::suffix_ids() const { return data_->suffix_ids; }
const std::string& Tokenizer::bos_token() const { return data_->bos_token; }
const std::string& Tokenizer::eos_token() const { return data_->eos_token; }
const std::optional<std::string>& Tokenizer::chat_template() const { return data_->chat_template; }
int Tokenizer::strip_leading_spaces() const { return data_->decoder.strip_leading_spaces(); }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (const auto id = data_->added.find_by_content(token)) return id;
  return data_->model.token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* added = data_->added.find_by_id(id)) return added->content;
  if (const std::string* piece = data_->model.id_to_piece(id)) return *piece;
  throw Error(str_cat("token id ", id, " is out of range (vocab_size ", data_->vocab_size, ")"));
}

bool Tokenizer::is_special(int32_t id) const {
  const AddedToken* added = data_->added.find_by_id(id);
  return added != nullptr && added->special;
}

}  // namespace swiftkv
