#include "tests/binary_fixtures.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef DASNET_HAVE_SEGYIO
#include <segyio/segy.h>
#endif
#ifdef DASNET_HAVE_MSEED
#include <libmseed.h>
#endif

namespace dasnet::fixtures {
namespace {

// Little-endian bytes, appended field by field.
class Bytes {
 public:
  template <typename T>
  Bytes& put(T value) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof value);
    std::memcpy(bytes_.data() + at, &value, sizeof value);
    return *this;
  }
  Bytes& text(const std::string& s) {  // TDMS string: u32 length, then the bytes
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& append(const Bytes& other) {
    bytes_.insert(bytes_.end(), other.bytes_.begin(), other.bytes_.end());
    return *this;
  }
  size_t size() const { return bytes_.size(); }
  const std::string& str() const { return bytes_; }

 private:
  std::string bytes_;
};

void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("fixture: cannot write " + path);
}

// ---- TDMS ----
constexpr uint32_t kTocMetaData = 1u << 1, kTocNewObjList = 1u << 2, kTocRawData = 1u << 3, kTocInterleaved = 1u << 5;
constexpr uint32_t kI16 = 2, kF32 = 9, kF64 = 10, kString = 0x20, kTimeStamp = 0x44, kNoRawData = 0xFFFFFFFF;

void property(Bytes& b, const std::string& name, double v) { b.text(name).put<uint32_t>(kF64).put<double>(v); }

// LabVIEW time stamp: 2^-64 s fractions and seconds since 1904-01-01 UTC. The fraction is
// rounded up so that reading it back (truncating to ns) gives the exact nanosecond.
void time_property(Bytes& b, const std::string& name, int64_t unix_ns) {
  constexpr int64_t kSeconds1904To1970 = 2082844800;
  const int64_t seconds = unix_ns / 1000000000 + kSeconds1904To1970;
  const unsigned __int128 ns = static_cast<uint64_t>(unix_ns % 1000000000);
  const uint64_t fraction = static_cast<uint64_t>(((ns << 64) + 999999999u) / 1000000000u);
  b.text(name).put<uint32_t>(kTimeStamp).put<uint64_t>(fraction).put<int64_t>(seconds);
}

Bytes tdms_first_metadata(const Spec& spec, const TdmsLayout& layout, uint64_t values_per_chunk) {
  Bytes m;
  m.put<uint32_t>(static_cast<uint32_t>(spec.channels + 2));
  m.text("/").put<uint32_t>(kNoRawData).put<uint32_t>(8);
  property(m, "SamplingFrequency[Hz]", spec.rate_hz);
  time_property(m, "GPSTimeStamp", spec.start_ns);
  property(m, "SpatialResolution[m]", spec.spacing_m / layout.length_multiplier);
  property(m, "StartPosition[m]", layout.start_position_m);
  property(m, "MeasureLength[m]", spec.channels * spec.spacing_m / layout.length_multiplier);
  property(m, "GaugeLength", spec.gauge_m);
  property(m, "Fibre Length Multiplier", layout.length_multiplier);
  m.text("name").put<uint32_t>(kString).text("synthetic iDAS");
  m.text("/'Measurement'").put<uint32_t>(kNoRawData).put<uint32_t>(0);
  for (size_t c = 0; c < spec.channels; ++c) {
    m.text("/'Measurement'/'" + std::to_string(c) + "'").put<uint32_t>(20);  // raw data index length
    m.put<uint32_t>(layout.float32 ? kF32 : kI16).put<uint32_t>(1).put<uint64_t>(values_per_chunk);
    m.put<uint32_t>(0);  // properties
  }
  return m;
}

Bytes tdms_same_index_metadata(const Spec& spec) {
  Bytes m;
  m.put<uint32_t>(static_cast<uint32_t>(spec.channels));
  for (size_t c = 0; c < spec.channels; ++c)
    m.text("/'Measurement'/'" + std::to_string(c) + "'").put<uint32_t>(0).put<uint32_t>(0);
  return m;
}

// One chunk: samples [t0, t0 + rows) of every channel, interleaved or one run per channel.
Bytes tdms_chunk(const Spec& spec, const TdmsLayout& layout, size_t t0, size_t rows) {
  Bytes d;
  auto put = [&](size_t c, size_t t) {
    if (layout.float32) {
      d.put<float>(binary_value(c, t, true));
    } else {
      d.put<int16_t>(static_cast<int16_t>(binary_value(c, t, false)));
    }
  };
  if (layout.interleaved) {
    for (size_t t = t0; t < t0 + rows; ++t)
      for (size_t c = 0; c < spec.channels; ++c) put(c, t);
  } else {
    for (size_t c = 0; c < spec.channels; ++c)
      for (size_t t = t0; t < t0 + rows; ++t) put(c, t);
  }
  return d;
}

}  // namespace

float binary_value(size_t channel, size_t time, bool floating) {
  return value(channel, time) + (floating ? 0.5f : 0.0f);
}

void write_tdms(const std::string& path, const Spec& spec, const TdmsLayout& layout) {
  const size_t chunks = layout.segments * layout.chunks_per_segment;
  if (chunks == 0 || spec.samples % chunks != 0) throw std::runtime_error("fixture: samples must split into chunks");
  const size_t rows = spec.samples / chunks;
  Bytes file;
  for (size_t s = 0; s < layout.segments; ++s) {
    const Bytes meta = s == 0 ? tdms_first_metadata(spec, layout, rows) : s == 1 ? tdms_same_index_metadata(spec) : Bytes();
    Bytes raw;
    for (size_t k = 0; k < layout.chunks_per_segment; ++k)
      raw.append(tdms_chunk(spec, layout, (s * layout.chunks_per_segment + k) * rows, rows));
    uint32_t toc = kTocRawData | (layout.interleaved ? kTocInterleaved : 0);
    if (s == 0) toc |= kTocNewObjList;
    if (s < 2) toc |= kTocMetaData;
    file.append(Bytes().put<char>('T').put<char>('D').put<char>('S').put<char>('m'));
    file.put<uint32_t>(toc).put<uint32_t>(layout.version);
    file.put<uint64_t>(meta.size() + raw.size()).put<uint64_t>(meta.size());
    file.append(meta).append(raw);
  }
  write_all(path, file.str());
}

int64_t segy_start_ns(const Spec& spec) { return spec.start_ns / 1000000000 * 1000000000; }

#ifdef DASNET_HAVE_SEGYIO
void write_segy(const std::string& path, const Spec& spec, const SegyLayout& layout) {
  segy_file* fp = segy_open(path.c_str(), "w+b");
  if (!fp) throw std::runtime_error("fixture: cannot create " + path);
  const int samples = static_cast<int>(spec.samples);
  const int interval_us = static_cast<int>(std::lround(1e6 / spec.rate_hz));
  std::string text(3200, ' ');
  text.replace(0, 40, "C 1 synthetic DAS patch, one trace/channel");
  char bin[400] = {};
  segy_set_bfield(bin, SEGY_BIN_TRACES, static_cast<int32_t>(spec.channels));
  segy_set_bfield(bin, SEGY_BIN_INTERVAL, interval_us);
  segy_set_bfield(bin, SEGY_BIN_SAMPLES, samples);
  segy_set_bfield(bin, SEGY_BIN_FORMAT, layout.format);
  segy_set_bfield(bin, SEGY_BIN_SEGY_REVISION, 0x0100);  // rev 1.0: major in the high byte
  const long trace0 = segy_trace0(bin);
  const int trace_bytes = segy_trsize(layout.format, samples);
  if (segy_write_textheader(fp, 0, text.c_str()) != SEGY_OK || segy_write_binheader(fp, bin) != SEGY_OK)
    throw std::runtime_error("fixture: SEG-Y headers of " + path);
  // Whole seconds of the start as year / day of year / hour / minute / second.
  const int64_t seconds = segy_start_ns(spec) / 1000000000;
  const int64_t days = seconds / 86400;
  int year = 1970;
  int64_t day = days;
  auto year_days = [](int y) { return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365; };
  while (day >= year_days(year)) day -= year_days(year++);
  const int32_t trace_interval = layout.trace_interval_us >= 0 ? layout.trace_interval_us : interval_us;
  std::vector<unsigned char> trace(static_cast<size_t>(trace_bytes));
  for (size_t c = 0; c < spec.channels; ++c) {
    char header[240] = {};
    segy_set_field(header, SEGY_TR_SEQ_LINE, static_cast<int32_t>(c + 1));
    segy_set_field(header, SEGY_TR_SAMPLE_COUNT, samples);
    segy_set_field(header, SEGY_TR_SAMPLE_INTER, trace_interval);
    segy_set_field(header, SEGY_TR_YEAR_DATA_REC, year);
    segy_set_field(header, SEGY_TR_DAY_OF_YEAR, static_cast<int32_t>(day + 1));
    segy_set_field(header, SEGY_TR_HOUR_OF_DAY, static_cast<int32_t>(seconds % 86400 / 3600));
    segy_set_field(header, SEGY_TR_MIN_OF_HOUR, static_cast<int32_t>(seconds % 3600 / 60));
    segy_set_field(header, SEGY_TR_SEC_OF_MIN, static_cast<int32_t>(seconds % 60));
    const bool floating = layout.format == 1 || layout.format == 5;
    for (size_t t = 0; t < spec.samples; ++t) {
      const float v = binary_value(c, t, floating);
      unsigned char* at = trace.data() + t * (trace_bytes / samples);
      if (floating) std::memcpy(at, &v, 4);
      if (layout.format == 2) { const int32_t x = static_cast<int32_t>(v); std::memcpy(at, &x, 4); }
      if (layout.format == 3) { const int16_t x = static_cast<int16_t>(v); std::memcpy(at, &x, 2); }
    }
    segy_from_native(layout.format, samples, trace.data());
    if (segy_write_traceheader(fp, static_cast<int>(c), header, trace0, trace_bytes) != SEGY_OK ||
        segy_writetrace(fp, static_cast<int>(c), trace.data(), trace0, trace_bytes) != SEGY_OK)
      throw std::runtime_error("fixture: SEG-Y trace of " + path);
  }
  segy_close(fp);
}
#else
void write_segy(const std::string& path, const Spec&, const SegyLayout&) {
  throw std::runtime_error("fixture: " + path + ": built without segyio");
}
#endif

int64_t mseed_start_ns(const Spec& spec) { return spec.start_ns / 100000 * 100000; }

std::string mseed_stream(size_t channel) { return "XX.DAS.." + std::string("HZ") + char('A' + channel % 26); }

#ifdef DASNET_HAVE_MSEED
namespace {
void append_record(char* record, int length, void* file) { static_cast<std::string*>(file)->append(record, size_t(length)); }

// Packs samples [t0, t1) of channel c starting at `start_ns` into 512-byte records.
void pack_stream(std::string& out, const Spec& spec, const MseedLayout& layout, size_t c, size_t t0, size_t t1,
                 int64_t start_ns) {
  MSTrace* trace = mst_init(nullptr);
  std::strcpy(trace->network, "XX");
  std::strcpy(trace->station, "DAS");
  std::strcpy(trace->channel, mseed_stream(c).substr(8).c_str());
  trace->dataquality = 'D';
  trace->starttime = start_ns / 1000;
  trace->samprate = spec.rate_hz;
  const size_t n = t1 - t0;
  if (layout.float32) {
    auto* v = static_cast<float*>(std::malloc(n * sizeof(float)));
    for (size_t t = 0; t < n; ++t) v[t] = binary_value(c, t0 + t, true);
    trace->datasamples = v;
    trace->sampletype = 'f';
  } else {
    auto* v = static_cast<int32_t*>(std::malloc(n * sizeof(int32_t)));
    for (size_t t = 0; t < n; ++t) v[t] = static_cast<int32_t>(binary_value(c, t0 + t, false));
    trace->datasamples = v;
    trace->sampletype = 'i';
  }
  trace->numsamples = trace->samplecnt = static_cast<int64_t>(n);
  int64_t packed = 0;
  if (mst_pack(trace, append_record, &out, 512, layout.float32 ? DE_FLOAT32 : DE_STEIM2, 1, &packed, 1, 0, nullptr) < 0)
    throw std::runtime_error("fixture: mst_pack failed");
  mst_free(&trace);
}
}  // namespace

void write_mseed(const std::string& path, const Spec& spec, const MseedLayout& layout) {
  std::string out;
  for (size_t c = 0; c < spec.channels; ++c) {
    const int64_t start = mseed_start_ns(spec) + static_cast<int64_t>(c) * layout.stagger_ns;
    if (c == 0 && layout.gap_after > 0) {
      pack_stream(out, spec, layout, c, 0, layout.gap_after, start);
      const int64_t later = start + std::llround(layout.gap_after / spec.rate_hz * 1e9) + 1000000000;
      pack_stream(out, spec, layout, c, layout.gap_after, spec.samples, later);
    } else {
      pack_stream(out, spec, layout, c, 0, spec.samples, start);
    }
  }
  write_all(path, out);
}
#else
void write_mseed(const std::string& path, const Spec&, const MseedLayout&) {
  throw std::runtime_error("fixture: " + path + ": built without libmseed");
}
#endif

void write_sentek(const std::string& path, const Spec& spec, const SentekLayout& layout) {
  Bytes b;
  b.put<float>(float(spec.channels)).put<float>(float(spec.samples)).put<float>(float(1e6 / spec.rate_hz));
  b.put<float>(layout.strain_rate_flag).put<float>(0).put<float>(1);
  for (size_t c = 0; c < spec.channels; ++c)
    b.put<float>(float(3 + c * spec.spacing_m + (c > 0 ? layout.uneven_m : 0)));
  for (size_t t = 0; t < spec.samples; ++t) b.put<float>(float(layout.first_time_s + t / spec.rate_hz));
  for (size_t t = 0; t < spec.samples; ++t)
    for (size_t c = 0; c < spec.channels; ++c) b.put<float>(binary_value(c, t, true));
  write_all(path, b.str());
}

void write_sintela(const std::string& path, const Spec& spec, const SintelaLayout& layout) {
  if (spec.samples % layout.packet_samples != 0) throw std::runtime_error("fixture: samples must split into packets");
  Bytes b;
  const size_t packets = spec.samples / layout.packet_samples;
  for (size_t k = 0; k < packets; ++k) {
    const double late_s = layout.gap_packet > 0 && k >= layout.gap_packet ? 1.0 : 0.0;
    const uint64_t start = uint64_t(spec.start_ns) + uint64_t(std::llround((k * layout.packet_samples / spec.rate_hz + late_s) * 1e9));
    b.put<uint32_t>(0x11223344).put<uint32_t>(96).put<uint32_t>(3);
    b.put<uint64_t>(k * layout.packet_samples).put<uint64_t>(start);
    b.put<uint32_t>(uint32_t(spec.channels)).put<uint32_t>(uint32_t(layout.packet_samples));
    b.put<float>(float(spec.rate_hz)).put<float>(float(spec.spacing_m / layout.channel_step)).put<float>(float(spec.gauge_m));
    b.put<uint32_t>(0).put<uint32_t>(layout.start_channel).put<uint32_t>(layout.channel_step);
    b.put<uint32_t>(0).put<int32_t>(0).put<uint32_t>(0);  // GPS PPS time, offset, status
    for (int f = 0; f < 6; ++f) b.put<uint8_t>(f == 4 ? layout.data_type : 0);
    b.put<uint16_t>(0);
    for (int t = 0; t < 8; ++t) b.put<uint16_t>(0);
    for (size_t t = k * layout.packet_samples; t < (k + 1) * layout.packet_samples; ++t)
      for (size_t c = 0; c < spec.channels; ++c) b.put<float>(binary_value(c, t, true));
  }
  write_all(path, b.str());
}

}  // namespace dasnet::fixtures
