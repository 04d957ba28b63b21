// Parsing tokenizer.json and tokenizer_config.json into TokenizerData; see tokenizer.h for the
// BOS/EOS rules and tokenizer_data.h for the state.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/tokenizer_data.h"

namespace swiftkv {
namespace {

namespace jf = json_fields;
using nlohmann::json;

std::optional<int32_t> lookup(const TokenizerData& d, std::string_view token) {
  if (const auto id = d.added.find_by_content(token)) return id;
  return d.model.token_to_id(token);
}

int32_t checked_id(const json& value, std::string_view where) {
  if (!value.is_number_integer()) {
    throw Error(str_cat(where, ": id must be an integer, got ", value.dump()));
  }
  const auto id = value.get<int64_t>();
  if (id < 0 || id > BpeModel::kMaxId) {
    throw Error(str_cat(where, ": id ", id, " is out of range [0, ", BpeModel::kMaxId, "]"));
  }
  return static_cast<int32_t>(id);
}

void parse_merges(const json& merges, BpeModel& model) {
  if (!merges.is_array()) throw Error("model: 'merges' must be an array");
  size_t index = 0;
  for (const json& merge : merges) {
    if (merge.is_string()) {
      const std::string& text = merge.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        throw Error(
            str_cat("merge ", index, " '", text, "' is not two pieces separated by one space"));
      }
      model.add_merge(std::string_view(text).substr(0, space),
                      std::string_view(text).substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      model.add_merge(merge[0].get_ref<const std::string&>(),
                      merge[1].get_ref<const std::string&>());
    } else {
      throw Error(
          str_cat("merge ", index, " must be \"a b\" or [\"a\", \"b\"], got ", merge.dump()));
    }
    ++index;
  }
}

void parse_model(const json& root, TokenizerData& d) {
  const json& model = jf::require(root, "model", "top level");
  jf::expect_object(model, "model");
  if (jf::has(model, "type")) {
    const std::string type = jf::require_string(model, "type", "model");
    if (type != "BPE") {
      throw Error(str_cat("unsupported model type '", type, "' (only BPE is supported)"));
    }
  } else if (!jf::has(model, "merges")) {
    throw Error("model: no 'type' and no 'merges' (only BPE is supported)");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (jf::has(model, key) && !model[key].get<std::string>().empty()) {
      throw Error(str_cat("model: '", key, "' is not supported"));
    }
  }
  const json& vocab = jf::require(model, "vocab", "model");
  jf::expect_object(vocab, "model vocab");
  const json& merges = jf::require(model, "merges", "model");
  d.model.reserve(vocab.size(), merges.is_array() ? merges.size() : 0);
  for (const auto& [piece, id] : vocab.items()) {
    d.model.add_piece(piece, checked_id(id, str_cat("vocab piece '", piece, "'")));
  }
  parse_merges(merges, d.model);

  BpeOptions options;
  options.byte_fallback = jf::get_bool(model, "byte_fallback", false, "model");
  options.ignore_merges = jf::get_bool(model, "ignore_merges", false, "model");
  options.fuse_unk = jf::get_bool(model, "fuse_unk", false, "model");
  if (jf::has(model, "unk_token")) {
    const std::string unk = jf::require_string(model, "unk_token", "model");
    options.unk_id = d.model.token_to_id(unk);
    if (!options.unk_id) throw Error(str_cat("model: unk_token '", unk, "' is not in the vocab"));
  }
  d.model.set_options(options);
  d.model.finalize();
}

void parse_added_tokens(const json& root, TokenizerData& d) {
  if (!jf::has(root, "added_tokens")) return;
  const json& list = root["added_tokens"];
  if (!list.is_array()) throw Error("'added_tokens' must be an array");
  for (const json& item : list) {
    AddedToken token;
    token.content = jf::require_string(item, "content", "added token");
    token.id = checked_id(jf::require(item, "id", "added token"),
                          str_cat("added token '", token.content, "'"));
    const std::string where = str_cat("added token '", token.content, "'");
    token.special = jf::get_bool(item, "special", false, where);
    token.lstrip = jf::get_bool(item, "lstrip", false, where);
    token.rstrip = jf::get_bool(item, "rstrip", false, where);
    token.single_word = jf::get_bool(item, "single_word", false, where);
    token.normalized = jf::get_bool(item, "normalized", !token.special, where);
    if (const std::string* piece = d.model.id_to_piece(token.id);
        piece != nullptr && *piece != token.content) {
      throw Error(
          str_cat(where, " has id ", token.id, ", which the vocab gives to '", *piece, "'"));
    }
    d.added.add(std::move(token));
  }
  d.added.finalize();
}

// Collects the special tokens a TemplateProcessing puts around the single sequence.
void parse_post_processor(const json& config, TokenizerData& d, bool& found_template) {
  if (config.is_null()) return;
  const std::string type = jf::require_string(config, "type", "post_processor");
  if (type == "Sequence") {
    const json& list = jf::require(config, "processors", "post_processor Sequence");
    if (!list.is_array()) throw Error("post_processor Sequence: 'processors' must be an array");
    for (const json& item : list) parse_post_processor(item, d, found_template);
  } else if (type == "ByteLevel") {
    // Offsets only; no effect on ids.
  } else if (type == "TemplateProcessing") {
    found_template = true;
    const json& single = jf::require(config, "single", "TemplateProcessing");
    const json& specials = jf::require(config, "special_tokens", "TemplateProcessing");
    if (!single.is_array()) throw Error("TemplateProcessing: 'single' must be an array");
    bool seen_sequence = false;
    for (const json& item : single) {
      if (jf::has(item, "Sequence")) {
        seen_sequence = true;
        continue;
      }
      const std::string name =
          jf::require_string(jf::require(item, "SpecialToken", "TemplateProcessing single"), "id",
                             "TemplateProcessing SpecialToken");
      const json& special = jf::require(specials, name, "TemplateProcessing special_tokens");
      for (const json& id : jf::require(special, "ids", str_cat("special token '", name, "'"))) {
        const int32_t value = checked_id(id, str_cat("TemplateProcessing token '", name, "'"));
        (seen_sequence ? d.suffix_ids : d.prefix_ids).push_back(value);
      }
    }
  } else {
    throw Error(str_cat("unsupported post_processor type '", type, "'"));
  }
}

// A token in tokenizer_config.json: a string, an AddedToken object {"content": ...}, or null.
std::string config_token(const json& config, std::string_view key) {
  if (!jf::has(config, key)) return {};
  const json& value = config.find(key).value();
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object()) return jf::require_string(value, "content", key);
  throw Error(str_cat("field '", key, "' must be a string or an object, got ", value.type_name()));
}

std::optional<bool> config_flag(const json& config, std::string_view key) {
  if (!jf::has(config, key)) return std::nullopt;
  return jf::get_bool(config, key, false, "tokenizer_config.json");
}

void parse_config(const json& config, TokenizerData& d, bool found_template) {
  jf::expect_object(config, "tokenizer_config.json");
  d.bos_token = config_token(config, "bos_token");
  d.eos_token = config_token(config, "eos_token");
  if (!d.bos_token.empty()) {
    d.bos_id = lookup(d, d.bos_token);
    if (!d.bos_id) throw Error(str_cat("bos_token '", d.bos_token, "' is not in the vocab"));
  }
  if (!d.eos_token.empty()) {
    const auto eos = lookup(d, d.eos_token);
    if (!eos) throw Error(str_cat("eos_token '", d.eos_token, "' is not in the vocab"));
    d.eos_ids.push_back(*eos);
  }
  if (jf::has(config, "chat_template")) {
    const json& tmpl = config["chat_template"];
    if (tmpl.is_string()) {
      d.chat_template = tmpl.get<std::string>();
    } else if (tmpl.is_array()) {  // [{"name": ..., "template": ...}]: prefer "default"
      for (const json& item : tmpl) {
        const std::string name = jf::require_string(item, "name", "chat_template entry");
        if (!d.chat_template || name == "default") {
          d.chat_template = jf::require_string(item, "template", "chat_template entry");
        }
      }
    } else {
      throw Error("'chat_template' must be a string or a list of {name, template}");
    }
  }

  const std::optional<bool> add_bos = config_flag(config, "add_bos_token");
  const std::optional<bool> add_eos = config_flag(config, "add_eos_token");
  if (add_bos) {
    d.prefix_ids.clear();
    if (*add_bos) {
      if (!d.bos_id) throw Error("add_bos_token is true but no bos_token is configured");
      d.prefix_ids.push_back(*d.bos_id);
    }
  } else if (!found_template && d.bos_id) {
    d.prefix_ids = {*d.bos_id};
  }
  if (add_eos) {
    d.suffix_ids.clear();
    if (*add_eos) {
      if (d.eos_ids.empty()) throw Error("add_eos_token is true but no eos_token is configured");
      d.suffix_ids.push_back(d.eos_ids.front());
    }
  }
}

template <typename Fn>
void with_context(std::string_view file, Fn&& fn) {
  try {
    fn();
  } catch (const json::exception& e) {
    throw Error(str_cat(file, ": ", e.what()));
  } catch (const Error& e) {
    throw Error(str_cat(file, ": ", e.what()));
  }
}

}  // namespace

std::unique_ptr<const TokenizerData> parse_tokenizer(const std::string& tokenizer_json,
                                                     const std::string& tokenizer_config_json) {
  auto d = std::make_unique<TokenizerData>();
  bool found_template = false;
  with_context("tokenizer.json", [&] {
    const json root = json::parse(tokenizer_json);
    jf::expect_object(root, "top level");
    parse_model(root, *d);
    parse_added_tokens(root, *d);
    d->normalizer = Normalizer::from_json(root.value("normalizer", json()));
    d->pre_tokenizer = PreTokenizer::from_json(root.value("pre_tokenizer", json()));
    d->decoder = Decoder::from_json(root.value("decoder", json()));
    parse_post_processor(root.value("post_processor", json()), *d, found_template);
  });
  d->vocab_size = std::max(d->model.id_end(), d->added.id_end());
  d->kind = d->pre_tokenizer.has_byte_level() || d->decoder.is_byte_level()
                ? TokenizerKind::kByteLevelBpe
                : TokenizerKind::kSentencePieceBpe;
  for (const int32_t id : d->prefix_ids) {
    if (id >= d->vocab_size)
      throw Error(str_cat("tokenizer.json: post_processor id ", id, " is out of range"));
  }
  for (const int32_t id : d->suffix_ids) {
    if (id >= d->vocab_size)
      throw Error(str_cat("tokenizer.json: post_processor id ", id, " is out of range"));
  }
  if (found_template && !d->prefix_ids.empty()) d->bos_id = d->prefix_ids.front();

  with_context("tokenizer_config.json", [&] {
    if (!tokenizer_config_json.empty()) {
      parse_config(json::parse(tokenizer_config_json), *d, found_template);
    } else if (!found_template) {
      d->prefix_ids.clear();  // no config and no template: nothing says BOS
    }
  });
  return d;
}

}  // namespace swiftkv
