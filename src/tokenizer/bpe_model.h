// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): vocab, ranked merges, and
// the merge loop that turns one pre-token into ids.
//
// Semantics follow Hugging Face tokenizers' BPE (models/bpe/word.rs): a pre-token starts as its
// characters (unknown characters become <0xXX> byte tokens with byte_fallback, else the unk token,
// else are dropped); then the adjacent pair with the lowest merge rank (leftmost on ties) is
// merged until no pair has a merge. With ignore_merges, a pre-token that is itself in the vocab
// maps directly to its id. Cost: O(n log n) per pre-token of n characters, no caching.
// Immutable after loading; encode_word is thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace swiftkv {

struct BpeOptions {
  bool byte_fallback = false;
  bool ignore_merges = false;
  bool fuse_unk = false;
  std::optional<int32_t> unk_id;
};

class BpeModel {
 public:
  BpeModel() = default;

  // Pre-sizes the tables (an optimisation for large files).
  void reserve(size_t num_pieces, size_t num_merges);
  // Adds a vocab piece. Throws Error on a negative or too large id, or a duplicate piece or id.
  void add_piece(std::string piece, int32_t id);
  // Appends a merge with the next rank. Throws Error naming the merge when `left` or `right` is
  // not in the vocab, or when their concatenation is not.
  void add_merge(std::string_view left, std::string_view right);
  void set_options(const BpeOptions& options) { options_ = options; }
  // Call once after all pieces are added: checks the options against the vocab.
  void finalize();

  // Appends the ids of the pre-token `word` (valid UTF-8) to `out`.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  std::optional<int32_t> token_to_id(std::string_view piece) const;
  // The piece of `id`, or nullptr when the model vocab has no such id.
  const std::string* id_to_piece(int32_t id) const;
  // One past the largest id in the vocab (0 when empty).
  int32_t id_end() const { return static_cast<int32_t>(pieces_.size()); }

  // Largest id accepted in a vocab (guards against absurd allocations from corrupt files).
  static constexpr int32_t kMaxId = (1 << 24) - 1;

 private:
  struct MergeTarget {
    int32_t rank;
    int32_t id;
  };
  // Open-addressing tables (linear probing, power-of-two capacity, load <= 1/2): much faster
  // to build and probe than node-based maps for the 128K pieces / 280K merges of Llama 3.
  struct PieceSlot {
    uint32_t hash;
    int32_t id;  // -1 = empty
  };
  struct MergeSlot {
    uint64_t key;  // kEmptyKey = empty
    MergeTarget target;
  };
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  static uint32_t hash_piece(std::string_view piece);
  // The slot holding `piece`, or the empty slot where it would go.
  size_t find_piece_slot(std::string_view piece, uint32_t hash) const;
  size_t find_merge_slot(uint64_t key) const;
  void grow_pieces(size_t min_capacity);
  void grow_merges(size_t min_capacity);
  const MergeTarget* find_merge(int32_t left, int32_t right) const;
  // Appends the initial symbol ids of one character (may be several byte tokens, or none).
  void append_char_symbols(std::string_view ch, std::vector<int32_t>& ids) const;

  std::vector<PieceSlot> piece_slots_;
  std::vector<MergeSlot> merge_slots_;
  size_t num_pieces_ = 0;
  size_t num_merges_ = 0;
  std::vector<std::string> pieces_;  // by id; ids may have holes
  std::vector<bool> has_piece_;
  int32_t num_merges_added_ = 0;
  std::vector<int32_t> byte_ids_;  // <0xXX> ids by byte, -1 when missing (byte_fallback only)
  BpeOptions options_;
};

}  // namespace swiftkv
