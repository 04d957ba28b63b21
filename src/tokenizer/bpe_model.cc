// BPE vocab, merges and merge loop; see bpe_model.h.
#include "tokenizer/bpe_model.h"

#include <queue>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace swiftkv {

uint32_t BpeModel::hash_piece(std::string_view piece) {
  // FNV-1a; pieces are short.
  uint32_t h = 2166136261U;
  for (const char c : piece) h = (h ^ static_cast<uint8_t>(c)) * 16777619U;
  return h;
}

size_t BpeModel::find_piece_slot(std::string_view piece, uint32_t hash) const {
  const size_t mask = piece_slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const PieceSlot& slot = piece_slots_[i];
    if (slot.id < 0 || (slot.hash == hash && pieces_[slot.id] == piece)) return i;
  }
}

size_t BpeModel::find_merge_slot(uint64_t key) const {
  const size_t mask = merge_slots_.size() - 1;
  for (size_t i = (key * 0x9E3779B97F4A7C15ULL) >> 20 & mask;; i = (i + 1) & mask) {
    const MergeSlot& slot = merge_slots_[i];
    if (slot.key == kEmptyKey || slot.key == key) return i;
  }
}

void BpeModel::grow_pieces(size_t min_capacity) {
  size_t capacity = 16;
  while (capacity < 2 * min_capacity) capacity *= 2;
  if (capacity <= piece_slots_.size()) return;
  piece_slots_.assign(capacity, PieceSlot{0, -1});
  for (size_t id = 0; id < pieces_.size(); ++id) {
    if (!has_piece_[id]) continue;
    const uint32_t hash = hash_piece(pieces_[id]);
    piece_slots_[find_piece_slot(pieces_[id], hash)] = {hash, static_cast<int32_t>(id)};
  }
}

void BpeModel::grow_merges(size_t min_capacity) {
  size_t capacity = 16;
  while (capacity < 2 * min_capacity) capacity *= 2;
  if (capacity <= merge_slots_.size()) return;
  std::vector<MergeSlot> old = std::move(merge_slots_);
  merge_slots_.assign(capacity, MergeSlot{kEmptyKey, {0, 0}});
  for (const MergeSlot& slot : old) {
    if (slot.key != kEmptyKey) merge_slots_[find_merge_slot(slot.key)] = slot;
  }
}

void BpeModel::reserve(size_t num_pieces, size_t num_merges) {
  pieces_.reserve(num_pieces);
  has_piece_.reserve(num_pieces);
  grow_pieces(num_pieces);
  grow_merges(num_merges);
}

void BpeModel::add_piece(std::string piece, int32_t id) {
  if (id < 0 || id > kMaxId) {
    throw Error(
        str_cat("vocab id ", id, " of piece '", piece, "' is out of range [0, ", kMaxId, "]"));
  }
  if (static_cast<size_t>(id) >= pieces_.size()) {
    pieces_.resize(static_cast<size_t>(id) + 1);
    has_piece_.resize(static_cast<size_t>(id) + 1, false);
  }
  if (has_piece_[id]) {
    throw Error(str_cat("vocab id ", id, " is used by both '", pieces_[id], "' and '", piece, "'"));
  }
  grow_pieces(num_pieces_ + 1);
  const uint32_t hash = hash_piece(piece);
  PieceSlot& slot = piece_slots_[find_piece_slot(piece, hash)];
  if (slot.id >= 0) throw Error(str_cat("vocab piece '", piece, "' appears twice"));
  slot = {hash, id};
  pieces_[id] = std::move(piece);
  has_piece_[id] = true;
  ++num_pieces_;
}

void BpeModel::add_merge(std::string_view left, std::string_view right) {
  const auto l = token_to_id(left);
  const auto r = token_to_id(right);
  if (!l || !r) {
    throw Error(str_cat("merge ", num_merges_added_, " '", left, " ", right, "' names '",
                        l ? right : left, "', which is not in the vocab"));
  }
  std::string merged;
  merged.reserve(left.size() + right.size());
  merged.append(left).append(right);
  const auto m = token_to_id(merged);
  if (!m) {
    throw Error(str_cat("merge ", num_merges_added_, " '", left, " ", right, "' produces '", merged,
                        "', which is not in the vocab"));
  }
  // Like Hugging Face (a HashMap built in rank order), a repeated pair keeps its last rank.
  grow_merges(num_merges_ + 1);
  const uint64_t key = pair_key(*l, *r);
  MergeSlot& slot = merge_slots_[find_merge_slot(key)];
  if (slot.key == kEmptyKey) ++num_merges_;
  slot = {key, {num_merges_added_, *m}};
  ++num_merges_added_;
}

void BpeModel::finalize() {
  if (options_.unk_id &&
      (*options_.unk_id < 0 || *options_.unk_id >= id_end() || !has_piece_[*options_.unk_id])) {
    throw Error(str_cat("unk token id ", *options_.unk_id, " is not in the vocab"));
  }
  byte_ids_.assign(256, -1);
  if (options_.byte_fallback) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      const std::string piece = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
      if (const auto id = token_to_id(piece)) byte_ids_[b] = *id;
    }
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view piece) const {
  if (piece_slots_.empty()) return std::nullopt;
  const int32_t id = piece_slots_[find_piece_slot(piece, hash_piece(piece))].id;
  if (id < 0) return std::nullopt;
  return id;
}

const std::string* BpeModel::id_to_piece(int32_t id) const {
  if (id < 0 || id >= id_end() || !has_piece_[id]) return nullptr;
  return &pieces_[id];
}

const BpeModel::MergeTarget* BpeModel::find_merge(int32_t left, int32_t right) const {
  if (merge_slots_.empty()) return nullptr;
  const MergeSlot& slot = merge_slots_[find_merge_slot(pair_key(left, right))];
  return slot.key == kEmptyKey ? nullptr : &slot.target;
}

void BpeModel::append_char_symbols(std::string_view ch, std::vector<int32_t>& ids) const {
  if (const auto id = token_to_id(ch)) {
    ids.push_back(*id);
    return;
  }
  if (options_.byte_fallback) {
    bool all_bytes = true;
    for (const char c : ch) all_bytes = all_bytes && byte_ids_[static_cast<uint8_t>(c)] >= 0;
    if (all_bytes) {
      for (const char c : ch) ids.push_back(byte_ids_[static_cast<uint8_t>(c)]);
      return;
    }
  }
  if (!options_.unk_id) return;  // Hugging Face drops the character when there is no unk token.
  if (options_.fuse_unk && !ids.empty() && ids.back() == *options_.unk_id) return;
  ids.push_back(*options_.unk_id);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (const auto id = token_to_id(word)) {
      out.push_back(*id);
      return;
    }
  }

  // Initial symbols: one per character (or per byte with byte fallback).
  std::vector<int32_t> ids;
  ids.reserve(word.size());
  size_t pos = 0;
  while (pos < word.size()) {
    size_t n = utf8::sequence_length(word, pos);
    if (n == 0) n = 1;  // callers pass valid UTF-8; be robust anyway
    append_char_symbols(word.substr(pos, n), ids);
    pos += n;
  }
  if (ids.size() <= 1) {
    out.insert(out.end(), ids.begin(), ids.end());
    return;
  }

  // A doubly linked list of symbols; merging folds the right symbol into the left one.
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  const auto num_symbols = static_cast<int32_t>(ids.size());
  std::vector<Symbol> symbols(ids.size());
  for (int32_t i = 0; i < num_symbols; ++i) {
    symbols[i] = {ids[i], i - 1, i + 1 < num_symbols ? i + 1 : -1, true};
  }

  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
  };
  // Lowest rank first, then leftmost position (tokenizers' Merge ordering).
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  const auto push_pair = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = symbols[left].next;
    if (right < 0) return;
    if (const MergeTarget* m = find_merge(symbols[left].id, symbols[right].id)) {
      queue.push({m->rank, left, m->id});
    }
  };
  for (int32_t i = 0; i + 1 < num_symbols; ++i) push_pair(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = symbols[top.pos];
    if (!left.alive || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const MergeTarget* m = find_merge(left.id, right.id);
    if (m == nullptr || m->rank != top.rank || m->id != top.new_id) continue;  // stale
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0) symbols[left.next].prev = top.pos;
    push_pair(left.prev);
    push_pair(top.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace swiftkv
