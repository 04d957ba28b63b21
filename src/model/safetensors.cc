// Safetensors reader and writer (contract in safetensors.h).
#include "model/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "core/error.h"

namespace swiftkv {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kHeaderLengthBytes = 8;

// Safetensors dtype names of the element types we load; anything else is rejected.
std::string_view safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "F32";
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
    case DType::kI32:
    case DType::kF8E4M3:
      break;
  }
  return "I32";
}

// Order of the reference writer (dtype descending, i.e. F32, BF16, F16), which keeps every
// tensor aligned to its element size.
int dtype_rank(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 2;
    case DType::kBF16:
      return 1;
    default:
      return 0;
  }
}

// A non-negative JSON integer, or nullopt.
std::optional<uint64_t> as_index(const json& value) {
  if (value.is_number_unsigned()) {
    return value.get<uint64_t>();
  }
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return static_cast<uint64_t>(value.get<int64_t>());
  }
  return std::nullopt;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
  if (!value.is_object()) {
    throw Error(
        str_cat(path, ": __metadata__ must be an object of strings, got ", value.type_name()));
  }
  std::map<std::string, std::string> metadata;
  for (const auto& [key, entry] : value.items()) {
    if (!entry.is_string()) {
      throw Error(str_cat(path, ": __metadata__ entry '", key, "' must be a string, got ",
                          entry.type_name()));
    }
    metadata.emplace(key, entry.get<std::string>());
  }
  return metadata;
}

// Parses and validates one tensor entry; returns (dtype, shape, begin).
std::tuple<DType, Shape, uint64_t> parse_entry(const std::string& path, const std::string& name,
                                               const json& value, uint64_t data_size) {
  const std::string where = str_cat(path, ": tensor '", name, "'");
  if (!value.is_object()) {
    throw Error(str_cat(where, " entry must be an object, got ", value.type_name()));
  }
  const auto dtype_it = value.find("dtype");
  const auto shape_it = value.find("shape");
  const auto offsets_it = value.find("data_offsets");
  if (dtype_it == value.end() || shape_it == value.end() || offsets_it == value.end()) {
    throw Error(str_cat(where, " entry needs dtype, shape and data_offsets"));
  }
  if (!dtype_it->is_string()) {
    throw Error(str_cat(where, " has a non-string dtype ", dtype_it->dump()));
  }
  const std::string dtype_str = dtype_it->get<std::string>();
  DType dtype = DType::kF32;
  if (dtype_str == "F32") {
    dtype = DType::kF32;
  } else if (dtype_str == "BF16") {
    dtype = DType::kBF16;
  } else if (dtype_str == "F16") {
    dtype = DType::kF16;
  } else {
    throw Error(
        str_cat(where, " has unsupported dtype ", dtype_str, " (supported: F32, BF16, F16)"));
  }

  if (!shape_it->is_array()) {
    throw Error(str_cat(where, " has invalid shape ", shape_it->dump()));
  }
  Shape shape;
  uint64_t numel = 1;
  for (const json& dim : *shape_it) {
    const auto d = as_index(dim);
    if (!d || *d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw Error(str_cat(where, " has invalid shape ", shape_it->dump(),
                          ": dimensions must be non-negative integers"));
    }
    if (__builtin_mul_overflow(numel, *d, &numel)) {
      throw Error(str_cat(where, " has shape ", shape_it->dump(), " whose size overflows"));
    }
    shape.push_back(static_cast<int64_t>(*d));
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, dtype_size(dtype), &nbytes) ||
      nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw Error(str_cat(where, " has shape ", shape_it->dump(), " whose size overflows"));
  }

  if (!offsets_it->is_array() || offsets_it->size() != 2) {
    throw Error(str_cat(where, " has invalid data_offsets ", offsets_it->dump()));
  }
  const auto begin = as_index((*offsets_it)[0]);
  const auto end = as_index((*offsets_it)[1]);
  if (!begin || !end || *begin > *end || *end > data_size) {
    throw Error(str_cat(where, " has data_offsets ", offsets_it->dump(),
                        " outside the data region of ", data_size, " bytes"));
  }
  if (*end - *begin != nbytes) {
    throw Error(str_cat(where, " has ", *end - *begin, " bytes in data_offsets but shape ",
                        shape_str(shape), " of ", dtype_str, " needs ", nbytes));
  }
  return {dtype, std::move(shape), *begin};
}

bool is_checkpoint_file(const std::string& name) {
  if (name == "model.safetensors" || name == "model.safetensors.index.json") {
    return true;
  }
  return name.starts_with("model-") && name.ends_with(".safetensors") &&
         name.find("-of-") != std::string::npos;
}

}  // namespace

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.file_ = MappedFile::open(path);
  const size_t size = f.file_->size();
  const unsigned char* bytes = f.file_->data();
  if (size < kHeaderLengthBytes) {
    throw Error(
        str_cat(path, ": file of ", size, " bytes is too small for a safetensors header length"));
  }
  uint64_t header_len = 0;
  for (size_t i = 0; i < kHeaderLengthBytes; ++i) {
    header_len |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  }
  if (header_len > size - kHeaderLengthBytes) {
    throw Error(str_cat(path, ": header length ", header_len, " exceeds file size ", size));
  }
  if (header_len > kMaxSafetensorsHeaderBytes) {
    throw Error(str_cat(path, ": header length ", header_len, " exceeds the limit of ",
                        kMaxSafetensorsHeaderBytes, " bytes"));
  }
  const auto* header_begin = reinterpret_cast<const char*>(bytes + kHeaderLengthBytes);
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_len);
  } catch (const json::exception& e) {
    throw Error(str_cat(path, ": header is not valid JSON: ", e.what()));
  }
  if (!header.is_object()) {
    throw Error(str_cat(path, ": header must be a JSON object, got ", header.type_name()));
  }
  const uint64_t data_size = size - kHeaderLengthBytes - header_len;
  f.data_ = bytes + kHeaderLengthBytes + header_len;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      f.metadata_ = parse_metadata(path, value);
      continue;
    }
    auto [dtype, shape, begin] = parse_entry(path, name, value, data_size);
    f.entries_.emplace(name, Entry{dtype, std::move(shape), begin});
    f.names_.push_back(name);
  }
  std::stable_sort(f.names_.begin(), f.names_.end(), [&](const auto& a, const auto& b) {
    return f.entries_.at(a).begin < f.entries_.at(b).begin;
  });
  return f;
}

Tensor SafetensorsFile::get(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) {
    throw Error(str_cat("missing tensor '", name, "' in ", path()));
  }
  const Entry& e = it->second;
  const unsigned char* p = data_ + e.begin;
  if (reinterpret_cast<uintptr_t>(p) % dtype_size(e.dtype) != 0) {
    Tensor copy = Tensor::empty(e.shape, e.dtype);
    if (copy.nbytes() > 0) {
      std::memcpy(copy.raw(), p, copy.nbytes());
    }
    return copy;
  }
  // The mapping is read-only: callers must not write through the view.
  return Tensor::wrap(const_cast<unsigned char*>(p), e.shape, e.dtype, Device::kCpu, file_);
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") {
      throw Error(str_cat(path, ": invalid tensor name '", name, "'"));
    }
    if (!seen.insert(name).second) {
      throw Error(str_cat(path, ": duplicate tensor name '", name, "'"));
    }
    if (!is_weight_dtype(tensor.dtype())) {
      throw Error(str_cat(path, ": tensor '", name, "' has dtype ", dtype_name(tensor.dtype()),
                          "; only F32, BF16 and F16 can be written"));
    }
    SWIFTKV_CHECK(tensor.device() == Device::kCpu && tensor.defined(), "tensor '", name,
                  "' must be a defined host tensor");
  }
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const int ra = dtype_rank(tensors[a].second.dtype());
    const int rb = dtype_rank(tensors[b].second.dtype());
    return ra != rb ? ra > rb : tensors[a].first < tensors[b].first;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    header["__metadata__"] = metadata;
  }
  uint64_t offset = 0;
  for (const size_t i : order) {
    const Tensor& t = tensors[i].second;
    const uint64_t end = offset + t.nbytes();
    header[tensors[i].first] = {{"dtype", safetensors_dtype_name(t.dtype())},
                                {"shape", t.shape()},
                                {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw Error(str_cat("cannot write ", temp, ": ", std::strerror(errno)));
    }
    unsigned char length[kHeaderLengthBytes];
    for (size_t i = 0; i < kHeaderLengthBytes; ++i) {
      length[i] =
          static_cast<unsigned char>((static_cast<uint64_t>(text.size()) >> (8 * i)) & 0xff);
    }
    out.write(reinterpret_cast<const char*>(length), sizeof(length));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const size_t i : order) {
      const Tensor& t = tensors[i].second;
      out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    }
    if (!out.flush()) {
      const std::string reason = std::strerror(errno);
      std::error_code ignored;
      fs::remove(temp, ignored);
      throw Error(str_cat("cannot write ", temp, ": ", reason));
    }
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    throw Error(str_cat("cannot rename ", temp, " to ", path, ": ", ec.message()));
  }
}

std::vector<std::string> save_checkpoint_tensors(const std::string& dir,
                                                 const NamedTensors& tensors,
                                                 uint64_t max_shard_bytes) {
  SWIFTKV_CHECK(max_shard_bytes > 0, "max_shard_bytes=", max_shard_bytes);
  if (!fs::is_directory(dir)) {
    throw Error(str_cat("cannot save checkpoint: ", dir, " is not a directory"));
  }
  std::set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    if (!seen.insert(name).second) {
      throw Error(
          str_cat("cannot save checkpoint to ", dir, ": duplicate tensor name '", name, "'"));
    }
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && is_checkpoint_file(entry.path().filename().string())) {
      fs::remove(entry.path());
    }
  }

  // Greedy sharding in the given order, like transformers' shard_checkpoint.
  std::vector<NamedTensors> shards(1);
  uint64_t shard_bytes = 0;
  uint64_t total_bytes = 0;
  for (const auto& named : tensors) {
    const uint64_t nbytes = named.second.nbytes();
    if (!shards.back().empty() && shard_bytes + nbytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(named);
    shard_bytes += nbytes;
    total_bytes += nbytes;
  }
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};
  if (shards.size() == 1) {
    write_safetensors(dir + "/model.safetensors", shards[0], metadata);
    return {"model.safetensors"};
  }
  std::vector<std::string> files;
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    write_safetensors(dir + "/" + name, shards[i], metadata);
    for (const auto& named : shards[i]) {
      weight_map[named.first] = name;
    }
    files.emplace_back(name);
  }
  nlohmann::ordered_json index = {{"metadata", {{"total_size", total_bytes}}},
                                  {"weight_map", weight_map}};
  write_file(dir + "/model.safetensors.index.json", index.dump(2) + "\n");
  files.emplace_back("model.safetensors.index.json");
  return files;
}

}  // namespace swiftkv
