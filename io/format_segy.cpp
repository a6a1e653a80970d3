// DAS data in SEG-Y (rev 0, 1, 2), read through segyio (Equinor's C library, Debian
// libsegyio-dev): one trace per channel, as DASCore's segy reader (dascore/io/segy) reads such
// files. What DASCore does, and what is read here the same way:
//   - channels are the traces in file order, numbered 0.. (no distance: SEG-Y DAS exports keep
//     it out of the standard headers), samples are the traces' samples;
//   - the start is trace 0's YearDataRecorded / DayOfYear / HourOfDay / MinuteOfHour /
//     SecondOfMinute (whole seconds, UTC);
//   - DASCore takes the sample interval (microseconds) and count from trace 0's header; here
//     the interval comes from the binary header (the file-wide value), with trace 0's as the
//     fallback where the binary header leaves it 0, and the two must agree where both are set.
// DASCore's data are float32 whatever the stored format (segyio converts IBM floats); here
// IBM and IEEE floats are float32, and 1-, 2- and 4-byte integers keep their type.
// Little-endian (SEG-Y rev 2 byte-swapped) files and formats other than 1, 2, 3, 5, 8 are
// refused by name.
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/binary_format.h"
#include "io/das_read_plan.h"
#include "io/das_time.h"

#ifdef DASNET_HAVE_SEGYIO
#include <segyio/segy.h>
#endif

namespace dasnet::detail {
namespace {

constexpr size_t kTextHeaderBytes = 3200, kBinaryHeaderBytes = 400, kTraceHeaderBytes = 240;

int big_endian_16(const std::string& head, size_t at) {
  return static_cast<int16_t>((static_cast<unsigned char>(head[at]) << 8) | static_cast<unsigned char>(head[at + 1]));
}

// Bytes per sample of SEG-Y rev 2's data sample format codes (0: unassigned).
int format_bytes(int code) {
  static constexpr int kBytes[17] = {0, 4, 4, 2, 4, 4, 8, 3, 1, 8, 4, 2, 8, 0, 0, 3, 1};
  return code >= 1 && code <= 16 ? kBytes[code] : 0;
}

}  // namespace

// ObsPy's and DASCore's checks of the binary header (big-endian) and room for one trace; a file
// that is not the headers plus whole traces (truncated) is then refused by the reader, naming
// the traces.
bool is_segy(const std::string& head, uint64_t file_size) {
  const size_t at = kTextHeaderBytes;
  if (head.size() < at + kBinaryHeaderBytes) return false;
  const int traces = big_endian_16(head, at + 12), aux = big_endian_16(head, at + 14);
  const int interval = big_endian_16(head, at + 16), samples = big_endian_16(head, at + 20);
  const int code = big_endian_16(head, at + 24), fixed = big_endian_16(head, at + 302);
  const int extended = big_endian_16(head, at + 304);
  const int major = static_cast<unsigned char>(head[at + 300]), minor = static_cast<unsigned char>(head[at + 301]);
  if (samples <= 0 || interval < 0 || format_bytes(code) == 0 || major > 3 || traces < 0 || aux < 0 ||
      !(minor <= 3 || minor == 100) || (fixed != 0 && fixed != 1) || extended < 0)
    return false;
  const uint64_t first_trace = at + kBinaryHeaderBytes + uint64_t(extended) * kTextHeaderBytes;
  const uint64_t trace_bytes = kTraceHeaderBytes + uint64_t(samples) * format_bytes(code);
  return file_size > first_trace && trace_bytes > kTraceHeaderBytes;
}

#ifdef DASNET_HAVE_SEGYIO
namespace {

struct SegyCloser {
  void operator()(segy_file* fp) const { segy_close(fp); }
};

class SegyRecord final : public BinaryRecord {
 public:
  explicit SegyRecord(const std::string& path) : path_(path) {}
  void parse();
  void read_samples(DasRecord& rec) const override;

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& problem) const {
    throw std::runtime_error(path_ + ": " + what + ": " + problem);
  }
  int32_t field(const char* header, int code, const std::string& name) const;
  int64_t trace0_start_ns(const char* header) const;

  std::string path_;
  std::unique_ptr<segy_file, SegyCloser> fp_;
  int format_ = 0, trace_bytes_ = 0;
  long trace0_ = 0;
};

int32_t SegyRecord::field(const char* header, int code, const std::string& name) const {
  int32_t value = 0;
  if (segy_get_field(header, code, &value) != SEGY_OK) fail("trace 0 header " + name, "unreadable");
  return value;
}

// Trace 0's recording time, as DASCore reads it: year, day of year, hour, minute, second.
int64_t SegyRecord::trace0_start_ns(const char* header) const {
  struct Part {
    int code;
    const char* name;
    int lo, hi;
  };
  static constexpr Part kParts[] = {{SEGY_TR_YEAR_DATA_REC, "YearDataRecorded", 1, 9999},
                                    {SEGY_TR_DAY_OF_YEAR, "DayOfYear", 1, 366},
                                    {SEGY_TR_HOUR_OF_DAY, "HourOfDay", 0, 23},
                                    {SEGY_TR_MIN_OF_HOUR, "MinuteOfHour", 0, 59},
                                    {SEGY_TR_SEC_OF_MIN, "SecondOfMinute", 0, 59}};
  int32_t v[5];
  for (int k = 0; k < 5; ++k) {
    v[k] = field(header, kParts[k].code, kParts[k].name);
    if (v[k] < kParts[k].lo || v[k] > kParts[k].hi)
      fail(std::string("trace 0 header ") + kParts[k].name,
           std::to_string(v[k]) + " is outside " + std::to_string(kParts[k].lo) + ".." + std::to_string(kParts[k].hi));
  }
  char year[8];
  std::snprintf(year, sizeof year, "%04d", v[0]);
  const int64_t new_year = *parse_iso8601_ns(std::string(year) + "-01-01");
  return new_year + ((v[1] - 1) * 86400LL + v[2] * 3600LL + v[3] * 60LL + v[4]) * 1000000000LL;
}

void SegyRecord::parse() {
  fp_.reset(segy_open(path_.c_str(), "rb"));
  if (!fp_) fail("file", "cannot open");
  char bin[kBinaryHeaderBytes];
  if (segy_binheader(fp_.get(), bin) != SEGY_OK) fail("binary header", "unreadable (truncated file)");
  format_ = segy_format(bin);
  const char* type = format_ == SEGY_IBM_FLOAT_4_BYTE || format_ == SEGY_IEEE_FLOAT_4_BYTE ? "float32"
                     : format_ == SEGY_SIGNED_INTEGER_4_BYTE                             ? "int32"
                     : format_ == SEGY_SIGNED_SHORT_2_BYTE                               ? "int16"
                     : format_ == SEGY_SIGNED_CHAR_1_BYTE                                ? "int8"
                                                                                         : nullptr;
  if (!type) fail("binary header data sample format code", std::to_string(format_) + " (1, 2, 3, 5 or 8 supported)");
  const int samples = segy_samples(bin);
  trace0_ = segy_trace0(bin);
  trace_bytes_ = segy_trsize(format_, samples);
  if (samples <= 0 || trace_bytes_ <= 0) fail("binary header samples per trace", std::to_string(samples));
  if (segy_set_format(fp_.get(), format_) != SEGY_OK) fail("binary header data sample format code", "refused by segyio");
  int traces = 0;
  const int counted = segy_traces(fp_.get(), &traces, trace0_, trace_bytes_);
  if (counted == SEGY_TRACE_SIZE_MISMATCH)
    fail("traces", "the file is not its headers plus whole " + std::to_string(kTraceHeaderBytes + trace_bytes_) +
                       "-byte traces (truncated or corrupted file)");
  if (counted != SEGY_OK || traces <= 0) fail("traces", "none (truncated file)");
  char header[kTraceHeaderBytes];
  if (segy_traceheader(fp_.get(), 0, header, trace0_, trace_bytes_) != SEGY_OK) fail("trace 0 header", "unreadable");
  const int32_t trace_samples = field(header, SEGY_TR_SAMPLE_COUNT, "TRACE_SAMPLE_COUNT");
  if (trace_samples != 0 && trace_samples != samples)
    fail("trace 0 header TRACE_SAMPLE_COUNT", std::to_string(trace_samples) + " differs from the binary header's " +
                                                  std::to_string(samples) + " samples per trace");
  int32_t interval_us = 0;
  segy_get_bfield(bin, SEGY_BIN_INTERVAL, &interval_us);
  const int32_t trace_interval_us = field(header, SEGY_TR_SAMPLE_INTER, "TRACE_SAMPLE_INTERVAL");
  if (interval_us == 0) interval_us = trace_interval_us;
  if (interval_us <= 0) fail("sample interval", "missing (0 in the binary header and in trace 0's header)");
  if (trace_interval_us != 0 && trace_interval_us != interval_us)
    fail("trace 0 header TRACE_SAMPLE_INTERVAL", std::to_string(trace_interval_us) + " us differs from the binary "
                                                     "header's " + std::to_string(interval_us) + " us");
  int32_t revision = 0;  // major in the high byte, minor in the low one (rev 1: 0x0100)
  segy_get_bfield(bin, SEGY_BIN_SEGY_REVISION, &revision);
  info.format_version = std::to_string((revision >> 8) & 0xff) + "." + std::to_string(revision & 0xff);
  info.data_path = std::to_string(traces) + " traces of " + std::to_string(samples) + " samples";
  info.stored_order = "channel x time (one trace per channel)";
  info.time_axis = 1;
  info.raw_type = type;
  info.num_channels = static_cast<size_t>(traces);
  info.num_samples = static_cast<size_t>(samples);
  info.sampling_rate_hz = 1e6 / interval_us;
  info.start_time_ns = trace0_start_ns(header);
  info.distance_units = "";  // channel numbers
  info.channel_spacing_m = 1;
  info.units = unknown_units_for(info.raw_type);
}

void SegyRecord::read_samples(DasRecord& rec) const {
  const int bytes = trace_bytes_ / static_cast<int>(info.num_samples);
  std::vector<unsigned char> stored(rec.num_samples * bytes);
  const int start = static_cast<int>(rec.first_sample), stop = start + static_cast<int>(rec.num_samples);
  for (size_t c = 0; c < rec.num_channels; ++c) {
    const int trace = static_cast<int>(rec.first_channel + c);
    if (segy_readsubtr(fp_.get(), trace, start, stop, 1, stored.data(), nullptr, trace0_, trace_bytes_) != SEGY_OK)
      fail("trace " + std::to_string(trace), "unreadable samples (truncated file)");
    segy_to_native(format_, static_cast<long long>(rec.num_samples), stored.data());
    float* out = rec.data.data() + c * rec.num_samples;
    for (size_t t = 0; t < rec.num_samples; ++t) {
      const unsigned char* v = stored.data() + t * bytes;
      switch (format_) {
        case SEGY_SIGNED_CHAR_1_BYTE: out[t] = static_cast<int8_t>(*v); break;
        case SEGY_SIGNED_SHORT_2_BYTE: { int16_t x; std::memcpy(&x, v, 2); out[t] = x; break; }
        case SEGY_SIGNED_INTEGER_4_BYTE: { int32_t x; std::memcpy(&x, v, 4); out[t] = static_cast<float>(x); break; }
        default: std::memcpy(&out[t], v, 4);  // IBM (converted) or IEEE float
      }
    }
  }
}

}  // namespace

std::unique_ptr<BinaryRecord> open_segy(const std::string& path, size_t record) {
  return open_single_record<SegyRecord>(path, record);
}
#else
std::unique_ptr<BinaryRecord> open_segy(const std::string& path, size_t) {
  throw std::runtime_error(path + ": a SEG-Y file, but this dasnet was built without segyio (install libsegyio-dev "
                                  "and rebuild to read it)");
}
#endif

}  // namespace dasnet::detail
