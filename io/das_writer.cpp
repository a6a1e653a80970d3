#include "io/das_writer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <set>
#include <stdexcept>

#include "core/tensor.h"  // UsageError
#include "core/usage_error.h"
#include "io/das_time.h"
#include "io/hdf5_util.h"

namespace dasnet {
namespace {

// DASCore parses data units with pint and refuses to read a patch whose units it cannot
// parse ("strain rate", "unknown"): write only units made of symbols pint knows.
bool dascore_parses_units(const std::string& units) {
  static const std::set<std::string> kSymbols = {"m", "mm", "um", "nm", "pm", "km", "ft", "s", "ms", "us", "ns",
                                                 "Hz", "kHz", "rad", "count", "counts", "strain", "microstrain",
                                                 "K", "Pa", "kPa", "MPa", "g"};
  std::string word;
  bool any = false;
  for (char c : units + " ") {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      word += c;
      continue;
    }
    if (!word.empty() && !kSymbols.count(word)) return false;
    any = any || !word.empty();
    word.clear();
    if (!std::isdigit(static_cast<unsigned char>(c)) && std::string(" /*()^.-").find(c) == std::string::npos) return false;
  }
  return any;
}

std::string random_uuid() {
  std::random_device device;
  std::mt19937_64 generator(device());
  const uint64_t a = generator(), b = generator();
  char text[40];
  std::snprintf(text, sizeof text, "%08x-%04x-4%03x-%04x-%012llx", unsigned(a >> 32), unsigned(a >> 16) & 0xffff,
                unsigned(a) & 0xfff, unsigned(0x8000 | (b >> 48 & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return text;
}

// The record is read and written `samples_per_block` samples at a time: visit(record, first).
void for_each_block(const DasSource& source, size_t samples_per_block,
                    const std::function<void(const DasRecord&, size_t)>& visit) {
  const size_t n = source.info().num_samples;
  for (size_t first = 0; first < n; first += samples_per_block) {
    ReadWindow window;
    window.first_sample = first;
    window.num_samples = std::min(samples_per_block, n - first);
    visit(source.read(window), first);
  }
}

struct WriteLayout {
  const DasInfo& info;
  bool int16;             // written as int16 (else float32)
  size_t block_samples;   // per read
  hid_t file_type() const { return int16 ? H5T_STD_I16LE : H5T_IEEE_F32LE; }
  hid_t memory_type() const { return int16 ? H5T_NATIVE_INT16 : H5T_NATIVE_FLOAT; }
  std::vector<int64_t> times_ns() const {
    std::vector<int64_t> times(info.num_samples);
    for (size_t k = 0; k < times.size(); ++k) times[k] = info.start_time_ns + sample_offset_ns(k, info.sampling_rate_hz);
    return times;
  }
};

// The block's samples in the written type, channel-major or (transposed) time-major.
std::vector<unsigned char> samples_as_written(const DasRecord& rec, const WriteLayout& layout, bool time_major) {
  const size_t nc = rec.num_channels, nt = rec.num_samples, width = layout.int16 ? 2 : 4;
  std::vector<unsigned char> out(nc * nt * width);
  for (size_t c = 0; c < nc; ++c)
    for (size_t t = 0; t < nt; ++t) {
      const float v = rec.data[c * nt + t];
      const size_t at = time_major ? t * nc + c : c * nt + t;
      if (layout.int16) reinterpret_cast<int16_t*>(out.data())[at] = static_cast<int16_t>(v);
      else reinterpret_cast<float*>(out.data())[at] = v;
    }
  return out;
}

void write_dasdae(hid_t file, const DasSource& source, const WriteLayout& layout, DasWriteReport& report) {
  const DasInfo& info = layout.info;
  h5::set_attr_utf8(file, "__format__", "DASDAE");
  h5::set_attr_utf8(file, "__DASDAE_version__", "1");
  h5::Handle waveforms = h5::create_group(file, "waveforms");
  h5::Handle patch = h5::create_group(waveforms, "DAS__converted__" + std::to_string(info.start_time_ns));
  h5::set_attr_utf8(patch, "_dims", "distance,time");
  h5::set_attr_utf8(patch, "_cdims_distance", "distance");
  h5::set_attr_utf8(patch, "_cdims_time", "time");
  if (dascore_parses_units(info.units)) h5::set_attr_utf8(patch, "_attrs_data_units", info.units);
  else report.notes.push_back("units '" + info.units + "' left out: DASCore cannot parse them as units");
  if (info.gauge_length_m > 0) h5::set_attr(patch, "_attrs_gauge_length", info.gauge_length_m);

  const size_t nc = info.num_channels, nt = info.num_samples;
  h5::Handle data = h5::create_dataset(patch, "data", layout.file_type(), {nc, nt});
  for_each_block(source, layout.block_samples, [&](const DasRecord& rec, size_t first) {
    h5::write_box(data, layout.memory_type(), samples_as_written(rec, layout, false).data(), {0, first}, {nc, rec.num_samples});
  });
  const std::vector<int64_t> times = layout.times_ns();
  h5::Handle time = h5::create_dataset(patch, "_coord_time", H5T_STD_I64LE, {nt});
  h5::write_box(time, H5T_NATIVE_INT64, times.data(), {0}, {nt});
  h5::set_attr_bits(time, "is_datetime64", true);
  h5::set_attr_bits(time, "is_timedelta64", false);
  std::vector<double> distance(nc);
  for (size_t c = 0; c < nc; ++c) distance[c] = info.distance_start_m + c * info.channel_spacing_m;
  h5::Handle along = h5::create_dataset(patch, "_coord_distance", H5T_IEEE_F64LE, {nc});
  h5::write_box(along, H5T_NATIVE_DOUBLE, distance.data(), {0}, {nc});
  h5::set_attr_bits(along, "is_datetime64", false);
  h5::set_attr_bits(along, "is_timedelta64", false);
}

// PRODML states distance as StartLocusIndex x SpatialSamplingInterval.
int64_t prodml_start_locus(const DasInfo& info) {
  const double loci = info.distance_start_m / info.channel_spacing_m;
  if (!(std::fabs(loci - std::round(loci)) <= 1e-6 * std::max(1.0, std::fabs(loci))))
    throw UsageError("--format prodml: the distance start " + std::to_string(info.distance_start_m) +
                     " m of " + info.source + " is not a whole number of channel spacings (" +
                     std::to_string(info.channel_spacing_m) + " m), which PRODML cannot state; use --format dasdae");
  return std::llround(loci);
}

void write_prodml(hid_t file, const DasSource& source, const WriteLayout& layout, DasWriteReport& report) {
  const DasInfo& info = layout.info;
  const int64_t start_locus = prodml_start_locus(info);
  const size_t nc = info.num_channels, nt = info.num_samples;
  const std::string start = format_iso8601_ns(info.start_time_ns), end = format_iso8601_ns(info.end_time_ns());
  h5::set_attr(file, "uuid", random_uuid());
  h5::Handle acq = h5::create_group(file, "Acquisition");
  h5::set_attr(acq, "schemaVersion", std::string("2.1"));
  h5::set_attr(acq, "uuid", random_uuid());
  h5::set_attr(acq, "NumberOfLoci", static_cast<int64_t>(nc));
  h5::set_attr(acq, "StartLocusIndex", start_locus);
  h5::set_attr(acq, "SpatialSamplingInterval", info.channel_spacing_m);
  h5::set_attr(acq, "SpatialSamplingInterval.uom", std::string("m"));
  h5::set_attr(acq, "MeasurementStartTime", start);
  h5::set_attr(acq, "GaugeLength", info.gauge_length_m > 0 ? info.gauge_length_m : std::nan(""));
  h5::set_attr(acq, "GaugeLength.uom", std::string("m"));
  // Not known from the record; NaN says so (DASCore needs the attributes to exist).
  h5::set_attr(acq, "PulseRate", std::nan(""));
  h5::set_attr(acq, "PulseWidth", std::nan(""));
  h5::Handle raw = h5::create_group(acq, "Raw[0]");
  h5::set_attr(raw, "NumberOfLoci", static_cast<int64_t>(nc));
  h5::set_attr(raw, "StartLocusIndex", start_locus);
  h5::set_attr(raw, "OutputDataRate", info.sampling_rate_hz);
  if (dascore_parses_units(info.units)) h5::set_attr(raw, "RawDataUnit", info.units);
  else report.notes.push_back("units '" + info.units + "' left out: DASCore cannot parse them as units");

  h5::Handle data = h5::create_dataset(raw, "RawData", layout.file_type(), {nt, nc});
  h5::set_attr(data, "Dimensions", std::vector<std::string>{"time", "locus"});
  h5::set_attr(data, "PartStartTime", start);
  h5::set_attr(data, "PartEndTime", end);
  for_each_block(source, layout.block_samples, [&](const DasRecord& rec, size_t first) {
    h5::write_box(data, layout.memory_type(), samples_as_written(rec, layout, true).data(), {first, 0}, {rec.num_samples, nc});
  });
  std::vector<int64_t> micros = layout.times_ns();
  for (int64_t& t : micros) t = t >= 0 ? t / 1000 : -((-t + 999) / 1000);  // floor, as numpy's datetime64[us]
  h5::Handle time = h5::create_dataset(raw, "RawDataTime", H5T_STD_I64LE, {nt});
  h5::write_box(time, H5T_NATIVE_INT64, micros.data(), {0}, {nt});
  h5::set_attr(time, "PartStartTime", start);
  h5::set_attr(time, "PartEndTime", end);
}

}  // namespace

DasOutputFormat parse_das_output_format(const std::string& name) {
  if (name == "dasdae") return DasOutputFormat::dasdae;
  if (name == "prodml") return DasOutputFormat::prodml;
  throw UsageError("--format '" + name + "': expected dasdae or prodml");
}

DasWriteReport write_das_file(const std::string& path, const DasSource& source, DasOutputFormat format,
                              size_t block_bytes) {
  const DasInfo& info = source.info();
  if (!info.start_time_known)
    throw std::runtime_error(info.source + ": stores no start time, which " +
                             std::string(format == DasOutputFormat::dasdae ? "DASDAE" : "PRODML") + " requires");
  if (info.processed)
    throw std::runtime_error(info.source + ": a processed product (" + info.product +
                             "), not raw data; converting it would label it raw");
  DasWriteReport report;
  const bool int16 = info.raw_type == "int16" && info.scale_factor == 1.0;
  report.dtype = int16 ? "int16" : "float32";
  const WriteLayout layout{info, int16, std::max<size_t>(1, block_bytes / (sizeof(float) * info.num_channels))};
  h5::write_file_atomically(path, [&](hid_t file) {
    if (format == DasOutputFormat::dasdae) write_dasdae(file, source, layout, report);
    else write_prodml(file, source, layout, report);
  });
  return report;
}

}  // namespace dasnet
