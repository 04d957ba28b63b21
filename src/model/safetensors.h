// The safetensors file format (https://github.com/huggingface/safetensors): reader and writer.
//
// Layout: u64 little-endian header length N, N bytes of JSON header
// {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}},
// then the data region; offsets are relative to the data region's start.
//
// Reader: the file is memory-mapped; every header field is checked against the file before any
// tensor is touched (a malformed or hostile file gives an Error naming the file and tensor,
// never a crash). Tensors are zero-copy views that keep the mapping alive; a tensor whose
// offset is not aligned to its element size (legal but unusual) is copied to aligned memory.
// Only F32, BF16 and F16 tensors are accepted.
//
// Writer: tensors are ordered by element size (largest first) then name, and the header is
// padded with spaces to a multiple of 8 bytes, as the reference implementation does, so every
// tensor is aligned to its element size when the file is mapped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor.h"

namespace swiftkv {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Upper bound on the JSON header (the reference implementation's limit).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ULL << 20;

class SafetensorsFile {
 public:
  // Maps and validates `path`; throws Error naming the file (and tensor) on any problem.
  static SafetensorsFile open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  // Tensor names in data order.
  const std::vector<std::string>& names() const { return names_; }
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  // A view of tensor `name`; throws Error "missing tensor 'x' in <path>" when absent.
  Tensor get(const std::string& name) const;
  // The `__metadata__` map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Entry {
    DType dtype;
    Shape shape;
    uint64_t begin;  // byte offset in the data region
  };
  std::shared_ptr<const MappedFile> file_;
  const unsigned char* data_ = nullptr;  // start of the data region
  std::map<std::string, Entry> entries_;
  std::vector<std::string> names_;
  std::map<std::string, std::string> metadata_;
};

// Writes one safetensors file (atomically: temp file + rename). Tensors must be host F32, BF16
// or F16 with unique names; throws Error otherwise or when the file cannot be written.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// transformers' default `max_shard_size` ("5GB").
inline constexpr uint64_t kDefaultMaxShardBytes = 5'000'000'000ULL;

// Writes the tensors of a checkpoint into existing directory `dir`, as transformers'
// save_pretrained does: `model.safetensors` when they fit in `max_shard_bytes`, otherwise
// shards `model-00001-of-0000N.safetensors` (filled greedily in the given order, a tensor larger
// than the limit gets a shard of its own) plus `model.safetensors.index.json` with
// `metadata.total_size` and `weight_map`. Checkpoint files of an earlier save in `dir`
// (model.safetensors, model-*-of-*.safetensors, the index) are removed first so the two layouts
// never mix. Every file gets metadata {"format": "pt"}. Returns the written file names.
std::vector<std::string> save_checkpoint_tensors(const std::string& dir,
                                                 const NamedTensors& tensors,
                                                 uint64_t max_shard_bytes = kDefaultMaxShardBytes);

}  // namespace swiftkv
