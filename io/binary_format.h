// Internal to the DAS readers: the formats that are not HDF5 (TDMS, SEG-Y, miniSEED, Sentek,
// Sintela). Each detects its files from their first bytes, describes the record(s) they hold
// and reads a window of samples; io/das_formats.cpp resolves windows, scales and counts for
// all of them as it does for HDF5.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/das_formats.h"

namespace dasnet::detail {

// A file read only through bounds-checked reads: a read past the end throws
// "<path>: <what>: truncated file (...)" instead of returning short.
class BinaryFile {
 public:
  explicit BinaryFile(const std::string& path);
  ~BinaryFile();
  BinaryFile(const BinaryFile&) = delete;
  BinaryFile& operator=(const BinaryFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Reads exactly `bytes` at `offset`; `what` names the field for the error.
  void read_at(uint64_t offset, void* out, size_t bytes, const std::string& what) const;
  // The same, large reads split into pieces read by the OpenMP threads (the page-cache copy
  // and the first touch of the destination then use every core).
  void read_at_parallel(uint64_t offset, void* out, size_t bytes, const std::string& what) const;
  template <typename T>
  T read_le(uint64_t offset, const std::string& what) const {  // little-endian scalar
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "binary readers assume a little-endian host");
    T value;
    read_at(offset, &value, sizeof value, what);
    return value;
  }
  [[noreturn]] void fail(const std::string& what, const std::string& problem) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// One opened record of a binary file: its metadata and a reader of sample windows.
class BinaryRecord {
 public:
  virtual ~BinaryRecord() = default;
  DasInfo info;
  // Fills rec.data (rec.num_channels x rec.num_samples, already sized) with the unscaled
  // samples of channels [rec.first_channel, +num_channels) x [rec.first_sample, +num_samples).
  virtual void read_samples(DasRecord& rec) const = 0;
  // Fills rec.stored (and stored_type, stored_time_major) with the same window as stored. The
  // default converts through read_samples to float32 channel-major; formats whose samples can
  // be copied as they lie override it.
  virtual void read_stored(DasRecord& rec) const;
};

struct BinaryFormat {
  const char* name;
  // A cheap test of the file's first bytes (`head`, up to kHeadBytes) and its size; must not
  // throw.
  bool (*matches)(const std::string& head, uint64_t file_size);
  // Opens record `record` of the file; throws naming the file and field on anything malformed.
  std::unique_ptr<BinaryRecord> (*open)(const std::string& path, size_t record);
};
constexpr size_t kHeadBytes = 4096;

// Opens a format that holds one record: refuses record > 0 naming the file, else parse()s.
template <typename Record>
std::unique_ptr<BinaryRecord> open_single_record(const std::string& path, size_t record) {
  if (record > 0) throw std::runtime_error(path + ": record " + std::to_string(record) + " requested; the file holds 1 record");
  auto opened = std::make_unique<Record>(path);
  opened->parse();
  return opened;
}

// The binary format of a file whose first bytes are `head`, or nullptr.
const BinaryFormat* find_binary_format(const std::string& head, uint64_t file_size);

// Stored element of a sample: its byte size and a converter of `count` stored values to float.
enum class SampleType { kInt16, kInt32, kFloat32, kFloat64 };
size_t sample_bytes(SampleType type);
const char* sample_type_name(SampleType type);
// Stored rows x row_stride values of `type` (time-major), columns [col0, col0 + nc) into
// out[c * out_stride + out_col + r].
void transpose_samples(SampleType type, const void* stored, size_t rows, size_t row_stride, size_t col0, size_t nc,
                       float* out, size_t out_stride, size_t out_col);

// Per format (io/format_<name>.cpp).
bool is_tdms(const std::string& head, uint64_t file_size);
std::unique_ptr<BinaryRecord> open_tdms(const std::string& path, size_t record);
// Through segyio and libmseed where dasnet was built with them (DASNET_HAVE_SEGYIO,
// DASNET_HAVE_MSEED); without, the file is still recognised and open says what to install.
bool is_segy(const std::string& head, uint64_t file_size);
std::unique_ptr<BinaryRecord> open_segy(const std::string& path, size_t record);
bool is_mseed(const std::string& head, uint64_t file_size);
std::unique_ptr<BinaryRecord> open_mseed(const std::string& path, size_t record);
bool is_sentek(const std::string& head, uint64_t file_size);
std::unique_ptr<BinaryRecord> open_sentek(const std::string& path, size_t record);
bool is_sintela_binary(const std::string& head, uint64_t file_size);
std::unique_ptr<BinaryRecord> open_sintela_binary(const std::string& path, size_t record);

}  // namespace dasnet::detail
