// The bounded file reads and sample conversion of the non-HDF5 readers, and their table.
#include "io/binary_format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "io/sample_transpose.h"

namespace dasnet::detail {

BinaryFile::BinaryFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    ::close(fd_);
    throw std::runtime_error(path + ": cannot stat (" + std::strerror(errno) + ")");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

BinaryFile::~BinaryFile() {
  if (fd_ >= 0) ::close(fd_);
}

void BinaryFile::fail(const std::string& what, const std::string& problem) const {
  throw std::runtime_error(path_ + ": " + what + ": " + problem);
}

void BinaryFile::read_at(uint64_t offset, void* out, size_t bytes, const std::string& what) const {
  if (offset > size_ || bytes > size_ - offset)
    fail(what, "truncated file (needs bytes " + std::to_string(offset) + ".." + std::to_string(offset + bytes) +
                   ", the file has " + std::to_string(size_) + ")");
  auto* dst = static_cast<char*>(out);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd_, dst, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) fail(what, got < 0 ? std::string("read error: ") + std::strerror(errno) : "file shrank while read");
    dst += got;
    offset += static_cast<uint64_t>(got);
    bytes -= static_cast<size_t>(got);
  }
}

void BinaryFile::read_at_parallel(uint64_t offset, void* out, size_t bytes, const std::string& what) const {
  constexpr size_t kPiece = size_t{8} << 20;
  const long pieces = static_cast<long>((bytes + kPiece - 1) / kPiece);
  if (pieces < 2) return read_at(offset, out, bytes, what);
  if (offset > size_ || bytes > size_ - offset) return read_at(offset, out, bytes, what);  // throws, naming it
  std::string error;
#pragma omp parallel for schedule(static)
  for (long k = 0; k < pieces; ++k) {
    const size_t at = static_cast<size_t>(k) * kPiece, n = std::min(kPiece, bytes - at);
    try {
      read_at(offset + at, static_cast<char*>(out) + at, n, what);
    } catch (const std::exception& e) {
#pragma omp critical(dasnet_read_at_parallel)
      if (error.empty()) error = e.what();
    }
  }
  if (!error.empty()) throw std::runtime_error(error);
}

size_t sample_bytes(SampleType type) {
  switch (type) {
    case SampleType::kInt16: return 2;
    case SampleType::kInt32: return 4;
    case SampleType::kFloat32: return 4;
    case SampleType::kFloat64: return 8;
  }
  return 4;
}

const char* sample_type_name(SampleType type) {
  switch (type) {
    case SampleType::kInt16: return "int16";
    case SampleType::kInt32: return "int32";
    case SampleType::kFloat32: return "float32";
    case SampleType::kFloat64: return "float64";
  }
  return "float32";
}

void transpose_samples(SampleType type, const void* stored, size_t rows, size_t row_stride, size_t col0, size_t nc,
                       float* out, size_t out_stride, size_t out_col) {
  switch (type) {
    case SampleType::kInt16:
      return transpose_into(static_cast<const int16_t*>(stored), rows, row_stride, col0, nc, out, out_stride, out_col);
    case SampleType::kInt32:
      return transpose_into(static_cast<const int32_t*>(stored), rows, row_stride, col0, nc, out, out_stride, out_col);
    case SampleType::kFloat32:
      return transpose_into(static_cast<const float*>(stored), rows, row_stride, col0, nc, out, out_stride, out_col);
    case SampleType::kFloat64:
      return transpose_into(static_cast<const double*>(stored), rows, row_stride, col0, nc, out, out_stride, out_col);
  }
}

void BinaryRecord::read_stored(DasRecord& rec) const {
  rec.data.resize(rec.num_channels * rec.num_samples);
  read_samples(rec);
  rec.stored.resize(rec.data.size() * sizeof(float));
  std::memcpy(rec.stored.data(), rec.data.data(), rec.stored.size());
  rec.data = {};
  rec.stored_type = "float32";
  rec.stored_time_major = false;
}

namespace {
// ---- binary formats: one row each (io/format_<name>.cpp) ----
// Formats with a magic number first; Sentek, recognised by its exact size alone, last.
constexpr BinaryFormat kBinaryFormats[] = {
    {"tdms", is_tdms, open_tdms},
    {"sintela_binary", is_sintela_binary, open_sintela_binary},
    {"mseed", is_mseed, open_mseed},
    {"segy", is_segy, open_segy},
    {"sentek", is_sentek, open_sentek},
};
}  // namespace

const BinaryFormat* find_binary_format(const std::string& head, uint64_t file_size) {
  for (const BinaryFormat& format : kBinaryFormats)
    if (format.matches(head, file_size)) return &format;
  return nullptr;
}

}  // namespace dasnet::detail
