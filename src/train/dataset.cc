#include "train/dataset.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/mapped_file.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace swiftkv {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

RawDocument parse_jsonl_line(const std::string& line, const std::string& where) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw Error(str_cat(where, ": invalid JSON: ", e.what()));
  }
  if (!json.is_object()) {
    throw Error(str_cat(where, ": expected a JSON object"));
  }
  RawDocument doc;
  auto string_field = [&](const char* name) {
    const auto& value = json.at(name);
    if (!value.is_string()) {
      throw Error(str_cat(where, ": field '", name, "' must be a string"));
    }
    return value.get<std::string>();
  };
  if (json.contains("messages")) {
    const auto& messages = json.at("messages");
    if (!messages.is_array() || messages.empty()) {
      throw Error(str_cat(where, ": 'messages' must be a non-empty array"));
    }
    for (const auto& message : messages) {
      if (!message.is_object() || !message.contains("role") || !message.contains("content")) {
        throw Error(str_cat(where, ": every message needs 'role' and 'content'"));
      }
    }
    doc.kind = RawDocument::Kind::kChat;
    doc.messages_json = messages.dump();
    doc.ends_with_user = messages.back().at("role") != "assistant";
  } else if (json.contains("text")) {
    doc.kind = RawDocument::Kind::kText;
    doc.text = string_field("text");
  } else if (json.contains("prompt")) {
    doc.kind = RawDocument::Kind::kCompletion;
    doc.prompt = string_field("prompt");
    doc.has_response = json.contains("response");
    if (doc.has_response) {
      doc.response = string_field("response");
    }
  } else {
    throw Error(str_cat(where, ": expected a 'messages', 'text' or 'prompt' field"));
  }
  return doc;
}

// Paragraphs (blank-line separated, trimmed of surrounding newlines) of a plain-text file.
std::vector<RawDocument> read_paragraphs(const std::string& contents) {
  std::vector<RawDocument> docs;
  std::string current;
  std::istringstream in(contents);
  std::string line;
  auto flush = [&] {
    if (!current.empty()) {
      RawDocument doc;
      doc.text = current;
      docs.push_back(std::move(doc));
      current.clear();
    }
  };
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      flush();
    } else {
      current += current.empty() ? line : "\n" + line;
    }
  }
  flush();
  return docs;
}

// Length of the common prefix of two token sequences.
size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) {
    ++n;
  }
  return n;
}

TokenizedDocument tokenize_chat(const RawDocument& document, const Tokenizer& tokenizer) {
  const std::optional<std::string>& source = tokenizer.chat_template();
  if (!source.has_value() || source->empty()) {
    throw Error("chat data: the tokenizer has no chat_template in tokenizer_config.json");
  }
  const ChatTemplate chat(*source);
  const nlohmann::json messages = nlohmann::json::parse(document.messages_json);
  const nlohmann::json context = {{"bos_token", tokenizer.bos_token()},
                                  {"eos_token", tokenizer.eos_token()}};
  TokenizedDocument out;
  out.tokens = tokenizer.encode(chat.render(messages, false, context), false);
  out.response.assign(out.tokens.size(), 0);
  // Assistant message i spans the tokens between the rendering of messages[0, i) with the
  // generation prompt and the rendering of messages[0, i] (as transformers' assistant masks).
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].at("role") != "assistant") {
      continue;
    }
    nlohmann::json before = nlohmann::json::array();
    for (size_t m = 0; m < i; ++m) {
      before.push_back(messages[m]);
    }
    nlohmann::json upto = before;
    upto.push_back(messages[i]);
    const auto begin =
        common_prefix(out.tokens, tokenizer.encode(chat.render(before, true, context), false));
    const auto end =
        common_prefix(out.tokens, tokenizer.encode(chat.render(upto, false, context), false));
    for (size_t t = begin; t < end; ++t) {
      out.response[t] = 1;
    }
  }
  return out;
}

}  // namespace

bool RawDocument::needs_response() const {
  return (kind == Kind::kCompletion && !has_response) || (kind == Kind::kChat && ends_with_user);
}

std::vector<RawDocument> read_documents(const std::string& path) {
  const std::string contents = read_file(path);
  if (!ends_with(path, ".jsonl")) {
    return read_paragraphs(contents);
  }
  std::vector<RawDocument> docs;
  std::istringstream in(contents);
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    docs.push_back(parse_jsonl_line(line, str_cat(path, " line ", line_number)));
  }
  return docs;
}

TokenizedDocument tokenize_document(const RawDocument& document, const Tokenizer& tokenizer) {
  if (document.needs_response()) {
    throw Error("a prompt-only document has no response: run with --generate-responses first");
  }
  TokenizedDocument out;
  switch (document.kind) {
    case RawDocument::Kind::kText:
      out.tokens = tokenizer.encode(document.text, true);
      out.response.assign(out.tokens.size(), 1);
      for (size_t i = 0; i < tokenizer.prefix_ids().size() && i < out.response.size(); ++i) {
        out.response[i] = 0;  // BOS is never predicted
      }
      return out;
    case RawDocument::Kind::kCompletion: {
      out.tokens = tokenizer.encode(document.prompt + document.response, true);
      const size_t begin = common_prefix(out.tokens, tokenizer.encode(document.prompt, true));
      out.response.assign(out.tokens.size(), 0);
      std::fill(out.response.begin() + static_cast<int64_t>(begin), out.response.end(), 1);
      return out;
    }
    case RawDocument::Kind::kChat:
      return tokenize_chat(document, tokenizer);
  }
  return out;
}

std::vector<PackedRow> pack_documents(const std::vector<TokenizedDocument>& documents,
                                      int64_t max_length) {
  SWIFTKV_CHECK(max_length >= 2, "max_length=", max_length);
  std::vector<PackedRow> rows;
  auto new_row = [&] {
    PackedRow row;
    row.tokens.assign(max_length, 0);
    row.positions.assign(max_length, 0);
    row.segments.assign(max_length, -1);
    row.loss_mask.assign(max_length, 0);
    rows.push_back(std::move(row));
  };
  int32_t segment = 0;
  for (const TokenizedDocument& doc : documents) {
    const auto n = static_cast<int64_t>(doc.tokens.size());
    for (int64_t begin = 0; begin < n; begin += max_length) {
      const int64_t len = std::min(max_length, n - begin);
      if (len < 2) {
        continue;  // nothing to predict
      }
      if (rows.empty() || rows.back().num_tokens + len > max_length) {
        new_row();
        segment = 0;
      }
      PackedRow& row = rows.back();
      const int64_t offset = row.num_tokens;
      for (int64_t i = 0; i < len; ++i) {
        row.tokens[offset + i] = doc.tokens[begin + i];
        row.positions[offset + i] = static_cast<int32_t>(i);
        row.segments[offset + i] = segment;
        row.loss_mask[offset + i] = (i + 1 < len && doc.response[begin + i + 1]) ? 1 : 0;
      }
      row.num_tokens += len;
      ++segment;
    }
  }
  return rows;
}

std::vector<int64_t> shuffled_indices(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) {
    order[i] = i;
  }
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

DatasetSplit split_documents(std::vector<TokenizedDocument> documents, double held_out_fraction,
                             uint64_t seed) {
  const auto n = static_cast<int64_t>(documents.size());
  auto num_held_out =
      static_cast<int64_t>(std::llround(static_cast<double>(n) * held_out_fraction));
  if (held_out_fraction > 0 && n > 1) {
    num_held_out = std::clamp<int64_t>(num_held_out, 1, n - 1);
  }
  DatasetSplit split;
  const std::vector<int64_t> order = shuffled_indices(n, seed);
  for (int64_t i = 0; i < n; ++i) {
    auto& target = i < n - num_held_out ? split.train : split.held_out;
    target.push_back(std::move(documents[order[i]]));
  }
  return split;
}

void write_documents_jsonl(const std::string& path, const std::vector<RawDocument>& documents) {
  std::string out;
  for (const RawDocument& doc : documents) {
    nlohmann::json json;
    switch (doc.kind) {
      case RawDocument::Kind::kText:
        json["text"] = doc.text;
        break;
      case RawDocument::Kind::kCompletion:
        json["prompt"] = doc.prompt;
        if (doc.has_response) {
          json["response"] = doc.response;
        }
        break;
      case RawDocument::Kind::kChat:
        json["messages"] = nlohmann::json::parse(doc.messages_json);
        break;
    }
    out += json.dump() + "\n";
  }
  write_file(path, out);
}

}  // namespace swiftkv
