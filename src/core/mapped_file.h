// A read-only memory mapping of a whole file (RAII). Used for zero-copy checkpoint loading.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace swiftkv {

class MappedFile {
 public:
  // Maps `path`; throws Error naming the path if it cannot be opened or mapped.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const unsigned char* data, size_t size);
  std::string path_;
  const unsigned char* data_;
  size_t size_;
};

// Reads a whole file into a string; throws Error naming the path on failure.
std::string read_file(const std::string& path);
// Writes `contents` to `path` atomically (temp file + rename); throws Error on failure.
void write_file(const std::string& path, const std::string& contents);

}  // namespace swiftkv
