// The fuzz targets' input as a file (HDF5 reads files, not buffers): one scratch file per
// process under $TMPDIR, rewritten for every input.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dasnet_fuzz {

// Writes the input to this process's scratch file; its path, or "" when it cannot be written.
inline std::string input_as_file(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/dasnet-fuzz-" + std::to_string(getpid()) + ".h5";
  }();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return "";
  const bool written = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && written ? path : "";
}

}  // namespace dasnet_fuzz
