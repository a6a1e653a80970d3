#include "tests/das_fixtures.h"

#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <stdexcept>

#include "io/das_time.h"
#include "io/hdf5_util.h"

namespace dasnet::fixtures {
namespace {

using h5::Handle;

void check(herr_t status, const std::string& what) {
  if (status < 0) throw std::runtime_error("fixture: " + what);
}

// Minimal HDF5 writer for the fixtures.
class Writer {
 public:
  explicit Writer(const std::string& path, hsize_t userblock = 0) {
    h5::silence_errors();
    Handle fcpl(H5Pcreate(H5P_FILE_CREATE));
    if (userblock) check(H5Pset_userblock(fcpl.get(), userblock), "userblock");
    file_ = Handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT));
    if (!file_.valid()) throw std::runtime_error("fixture: cannot create " + path);
    lcpl_ = Handle(H5Pcreate(H5P_LINK_CREATE));
    H5Pset_create_intermediate_group(lcpl_.get(), 1);
  }
  hid_t id() const { return file_.get(); }
  Writer(Writer&&) = default;

  void group(const std::string& path) {
    Handle g(H5Gcreate2(file_.get(), path.c_str(), lcpl_.get(), H5P_DEFAULT, H5P_DEFAULT));
    if (!g.valid()) throw std::runtime_error("fixture: group " + path);
  }

  // Creates a dataset of `file_type` and writes `data` (memory type `mem_type`) if given.
  Handle dataset(const std::string& path, hid_t file_type, const std::vector<hsize_t>& dims, hid_t mem_type = -1,
                 const void* data = nullptr, const std::vector<hsize_t>& chunk = {}) {
    Handle space(dims.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE));
    if (!chunk.empty()) check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "chunk");
    Handle d(H5Dcreate2(file_.get(), path.c_str(), file_type, space.get(), lcpl_.get(), dcpl.get(), H5P_DEFAULT));
    if (!d.valid()) throw std::runtime_error("fixture: dataset " + path);
    if (data) check(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + path);
    return d;
  }
  void doubles(const std::string& path, const std::vector<double>& v, std::vector<hsize_t> dims = {}) {
    if (dims.empty()) dims = {v.size()};
    dataset(path, H5T_IEEE_F64LE, dims, H5T_NATIVE_DOUBLE, v.data());
  }
  void scalar(const std::string& path, double v) { dataset(path, H5T_IEEE_F64LE, {}, H5T_NATIVE_DOUBLE, &v); }
  void scalar_int(const std::string& path, int64_t v) { dataset(path, H5T_STD_I64LE, {}, H5T_NATIVE_INT64, &v); }
  void text(const std::string& path, const std::string& s) {
    Handle t = string_type(s.size());
    dataset(path, t.get(), {}, t.get(), s.c_str());
  }
  void texts(const std::string& path, const std::vector<std::string>& items) {
    size_t width = 1;
    for (const auto& s : items) width = std::max(width, s.size());
    std::vector<char> buf(items.size() * width, '\0');
    for (size_t i = 0; i < items.size(); ++i) std::memcpy(buf.data() + i * width, items[i].data(), items[i].size());
    Handle t = string_type(width);
    dataset(path, t.get(), {items.size()}, t.get(), buf.data());
  }

  // Attributes on the object at `object` ("/" for the root).
  void attr(const std::string& object, const std::string& name, double v) { attr_doubles(object, name, {v}, true); }
  void attr_int(const std::string& object, const std::string& name, int64_t v) {
    Handle o = open(object);
    Handle space(H5Screate(H5S_SCALAR));
    Handle a(H5Acreate2(o.get(), name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
    check(H5Awrite(a.get(), H5T_NATIVE_INT64, &v), "attr " + name);
  }
  void attr_doubles(const std::string& object, const std::string& name, const std::vector<double>& v,
                    bool scalar_space = false) {
    Handle o = open(object);
    const hsize_t n = v.size();
    Handle space(scalar_space ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr));
    Handle a(H5Acreate2(o.get(), name.c_str(), H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
    check(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, v.data()), "attr " + name);
  }
  // Reopens a file a fixture wrote, to add to it.
  static Writer open_existing(const std::string& path) { return Writer(path, Reopen{}); }
  void attr_ints(const std::string& object, const std::string& name, const std::vector<int32_t>& v) {
    Handle o = open(object);
    const hsize_t n = v.size();
    Handle space(H5Screate_simple(1, &n, nullptr));
    Handle a(H5Acreate2(o.get(), name.c_str(), H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
    check(H5Awrite(a.get(), H5T_NATIVE_INT32, v.data()), "attr " + name);
  }
  // Fixed-length UTF-8 text, as PyTables writes a Python str.
  void attr_utf8(const std::string& object, const std::string& name, const std::string& s) {
    Handle o = open(object);
    Handle space(H5Screate(H5S_SCALAR));
    Handle t = string_type(std::max<size_t>(1, s.size()));
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
    Handle a(H5Acreate2(o.get(), name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    check(H5Awrite(a.get(), t.get(), s.c_str()), "attr " + name);
  }
  // An 8-bit bitfield, as PyTables writes numpy bools.
  void attr_bits(const std::string& object, const std::string& name, bool v) {
    Handle o = open(object);
    Handle space(H5Screate(H5S_SCALAR));
    Handle a(H5Acreate2(o.get(), name.c_str(), H5T_STD_B8LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
    const unsigned char bits = v ? 1 : 0;
    check(H5Awrite(a.get(), H5T_NATIVE_B8, &bits), "attr " + name);
  }
  // DIMENSION_LIST as the HDF5 dimension-scale convention has it: per axis a variable-length
  // list of object references to the scales.
  void dimension_list(const std::string& object, const std::vector<std::string>& scales) {
    std::vector<hobj_ref_t> refs(scales.size());
    std::vector<hvl_t> lists(scales.size());
    for (size_t k = 0; k < scales.size(); ++k) {
      check(H5Rcreate(&refs[k], file_.get(), scales[k].c_str(), H5R_OBJECT, -1), "reference " + scales[k]);
      lists[k] = {1, &refs[k]};
    }
    Handle o = open(object);
    const hsize_t n = scales.size();
    Handle space(H5Screate_simple(1, &n, nullptr));
    Handle type(H5Tvlen_create(H5T_STD_REF_OBJ));
    Handle a(H5Acreate2(o.get(), "DIMENSION_LIST", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    check(H5Awrite(a.get(), type.get(), lists.data()), "attr DIMENSION_LIST");
  }
  // Fixed-length text by default; variable-length as h5py writes str attributes.
  void attr_text(const std::string& object, const std::string& name, const std::string& s, bool variable = false) {
    Handle o = open(object);
    Handle space(H5Screate(H5S_SCALAR));
    Handle t = variable ? string_type(0) : string_type(s.size());
    Handle a(H5Acreate2(o.get(), name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    if (variable) {
      const char* p = s.c_str();
      check(H5Awrite(a.get(), t.get(), &p), "attr " + name);
    } else {
      check(H5Awrite(a.get(), t.get(), s.c_str()), "attr " + name);
    }
  }
  void attr_texts(const std::string& object, const std::string& name, const std::vector<std::string>& items,
                  bool variable = false) {
    Handle o = open(object);
    if (variable) {  // an array of variable-length strings, as h5py writes a list of str
      std::vector<const char*> ptrs;
      for (const auto& item : items) ptrs.push_back(item.c_str());
      const hsize_t n = items.size();
      Handle space(H5Screate_simple(1, &n, nullptr));
      Handle t = string_type(0);
      Handle a(H5Acreate2(o.get(), name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
      check(H5Awrite(a.get(), t.get(), ptrs.data()), "attr " + name);
      return;
    }
    size_t width = 1;
    for (const auto& s : items) width = std::max(width, s.size());
    std::vector<char> buf(items.size() * width, '\0');
    for (size_t i = 0; i < items.size(); ++i) std::memcpy(buf.data() + i * width, items[i].data(), items[i].size());
    const hsize_t n = items.size();
    Handle space(H5Screate_simple(1, &n, nullptr));
    Handle t = string_type(width);
    Handle a(H5Acreate2(o.get(), name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    check(H5Awrite(a.get(), t.get(), buf.data()), "attr " + name);
  }

 private:
  struct Reopen {};
  Writer(const std::string& path, Reopen) {
    h5::silence_errors();
    file_ = Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
    if (!file_.valid()) throw std::runtime_error("fixture: cannot reopen " + path);
    lcpl_ = Handle(H5Pcreate(H5P_LINK_CREATE));
    H5Pset_create_intermediate_group(lcpl_.get(), 1);
  }
  Handle open(const std::string& object) {
    Handle o(H5Oopen(file_.get(), object.c_str(), H5P_DEFAULT));
    if (!o.valid()) throw std::runtime_error("fixture: no object " + object);
    return o;
  }
  static Handle string_type(size_t width) {
    Handle t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t.get(), width == 0 ? H5T_VARIABLE : width);
    H5Tset_strpad(t.get(), H5T_STR_NULLTERM);
    return t;
  }
  Handle file_;
  Handle lcpl_;
};

// Writes a rows x cols int16/float32 matrix block by block: cell(row, col) gives the value.
void write_matrix(Writer& w, const std::string& path, hid_t file_type, size_t rows, size_t cols,
                  const std::function<double(size_t, size_t)>& cell, size_t chunk_rows = 0) {
  std::vector<hsize_t> chunk;
  if (chunk_rows) chunk = {std::min(chunk_rows, rows), cols};
  Handle d = w.dataset(path, file_type, {rows, cols}, -1, nullptr, chunk);
  const size_t block = chunk_rows ? chunk_rows : std::max<size_t>(1, (size_t{1} << 20) / cols);
  std::vector<double> buf;
  Handle fspace(H5Dget_space(d.get()));
  for (size_t r0 = 0; r0 < rows; r0 += block) {
    const size_t n = std::min(block, rows - r0);
    buf.resize(n * cols);
    for (size_t r = 0; r < n; ++r)
      for (size_t c = 0; c < cols; ++c) buf[r * cols + c] = cell(r0 + r, c);
    const hsize_t start[2] = {r0, 0}, count[2] = {n, cols};
    check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "select");
    Handle mspace(H5Screate_simple(2, count, nullptr));
    check(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, mspace.get(), fspace.get(), H5P_DEFAULT, buf.data()), "write " + path);
  }
}

std::string iso(int64_t ns) { return format_iso8601_ns(ns); }

// "24/05/2023 12:34:56.123456 (UTC)" from the ISO form.
std::string day_first(int64_t ns) {
  const std::string s = iso(ns);  // YYYY-MM-DDTHH:MM:SS[.f]Z
  return s.substr(8, 2) + "/" + s.substr(5, 2) + "/" + s.substr(0, 4) + " " + s.substr(11, s.size() - 12) + " (UTC)";
}

}  // namespace

float value(size_t channel, size_t time) {
  return static_cast<float>(static_cast<int>((channel * 131 + time * 17 + (channel * time) % 7) % 2001) - 1000);
}

std::string make_temp_dir(const std::string& tag) {
  static std::mt19937_64 rng(std::random_device{}());
  const auto dir = std::filesystem::temp_directory_path() /
                   ("dasnet-" + tag + "-" + std::to_string(rng() % 1000000000ULL));
  std::filesystem::create_directories(dir);
  return dir.string();
}

void write_dsi_mat(const std::string& path, const Spec& spec, const std::string& key) {
  {
    Writer w(path, 512);
    const std::string g = "/" + key;
    w.group(g);
    w.attr_text(g, "MATLAB_class", "struct");
    // fh: 0-based element 7 is the sample interval; neighbours hold other numbers so an
    // off-by-one shows.
    std::vector<double> fh = {3, 1, double(spec.channels), double(spec.samples), 0, 0, 1.0 / 1000, 1.0 / spec.rate_hz,
                              spec.spacing_m, 0, 0, 0};
    w.doubles(g + "/fh", fh, {1, fh.size()});  // MATLAB column vector as HDF5 stores it
    w.attr_text(g + "/fh", "MATLAB_class", "double");
    std::vector<double> th(spec.channels * 4, 0.0);
    w.doubles(g + "/th", th, {4, spec.channels});
    w.attr_text(g + "/th", "MATLAB_class", "double");
    // MATLAB time x channel -> HDF5 channel x time.
    write_matrix(w, g + "/dat", H5T_STD_I16LE, spec.channels, spec.samples,
                 [](size_t c, size_t t) { return value(c, t); });
    w.attr_text(g + "/dat", "MATLAB_class", "int16");
  }
  // The MATLAB header in the userblock, as MATLAB writes it (text, then version and endian).
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  char header[128];
  std::memset(header, ' ', sizeof header);
  const char text[] = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Wed May 24 12:34:56 2023 HDF5 schema 1.00 .";
  std::memcpy(header, text, sizeof text - 1);
  std::memset(header + 116, 0, 8);
  header[124] = 0x00;
  header[125] = 0x02;
  header[126] = 'I';
  header[127] = 'M';
  f.write(header, sizeof header);
}

void write_prodml(const std::string& path, const Spec& spec, const std::string& version, bool time_major,
                  size_t chunk_rows) {
  Writer w(path);
  w.attr_text("/", "uuid", "00000000-0000-0000-0000-000000000000");
  w.group("/Acquisition");
  const std::string acq = "/Acquisition", raw = "/Acquisition/Raw[0]";
  w.attr_text(acq, "schemaVersion", version);
  w.attr_int(acq, "NumberOfLoci", static_cast<int64_t>(spec.channels));
  w.attr_int(acq, "StartLocusIndex", 10);
  w.attr(acq, "SpatialSamplingInterval", spec.spacing_m);
  const bool v20 = version == "2.0";
  w.attr_text(acq, v20 ? "SpatialSamplingIntervalUnit" : "SpatialSamplingInterval.uom", "m");
  w.attr(acq, v20 ? "GaugeLength" : "MeasuredGaugeLength", spec.gauge_m);
  w.attr_text(acq, "MeasurementStartTime", iso(spec.start_ns));
  w.attr_text(acq, "uuid", "00000000-0000-0000-0000-000000000001");
  w.attr(acq, "PulseRate", 10000.0);  // DASCore's PRODML test requires these and uuid
  w.attr(acq, "PulseWidth", 20.0);
  w.group(raw);
  w.attr_int(raw, "NumberOfLoci", static_cast<int64_t>(spec.channels));
  w.attr_text(raw, "RawDataUnit", "(nm/m)/s");
  if (v20) w.attr(raw, "OutputDataRate", spec.rate_hz);
  if (time_major)
    write_matrix(w, raw + "/RawData", H5T_STD_I16LE, spec.samples, spec.channels,
                 [](size_t t, size_t c) { return value(c, t); }, chunk_rows);
  else
    write_matrix(w, raw + "/RawData", H5T_STD_I16LE, spec.channels, spec.samples,
                 [](size_t c, size_t t) { return value(c, t); }, chunk_rows);
  if (v20) {
    w.attr_texts(raw + "/RawData", "Dimensions", time_major ? std::vector<std::string>{"time", "locus"}
                                                            : std::vector<std::string>{"locus", "time"});
    w.attr_text(raw + "/RawData", "PartStartTime", iso(spec.start_ns));
  }
  std::vector<int64_t> times(spec.samples);
  for (size_t t = 0; t < spec.samples; ++t)
    times[t] = spec.start_ns / 1000 + static_cast<int64_t>(std::llround(t * 1e6 / spec.rate_hz));
  w.dataset(raw + "/RawDataTime", H5T_STD_I64LE, {spec.samples}, H5T_NATIVE_INT64, times.data());
  if (v20) {
    w.attr_text(raw + "/RawDataTime", "PartStartTime", iso(times.front() * 1000));
    w.attr_text(raw + "/RawDataTime", "PartEndTime", iso(times.back() * 1000));
  }
}

void write_terra15(const std::string& path, const Spec& spec, size_t unwritten_rows, int version) {
  Writer w(path);
  w.attr_int("/", "file_version", version);
  w.attr("/", version >= 5 ? "dt_computer" : "dt", 1.0 / spec.rate_hz);
  w.attr("/", "dx", spec.spacing_m);
  w.attr("/", "gauge_length", spec.gauge_m);
  w.attr("/", "sensing_range_start", 30.0);
  w.attr_int("/", "nx", static_cast<int64_t>(spec.channels));
  w.attr_int("/", "gps_locked", 0);
  // Root attributes DASCore's Terra15 test looks for.
  w.attr("/", "acoustic_bandwidth_end", spec.rate_hz / 2);
  w.attr("/", "amplifier_incoming_current", 105.0);
  w.attr("/", "file_start_computer_time", spec.start_ns / 1e9);
  w.attr_text("/", "data_product", "velocity", true);
  w.attr_text("/", "data_product_units", "m/s", true);
  const std::string group = version >= 5 ? "/data_product" : "/velocity";
  w.group(group);
  const size_t rows = spec.samples + unwritten_rows;
  write_matrix(w, group + "/data", H5T_IEEE_F32LE, rows, spec.channels,
               [&](size_t t, size_t c) { return t < spec.samples ? value(c, t) * 1e-6 : 0.0; });
  std::vector<double> posix(rows, 0.0);
  for (size_t t = 0; t < spec.samples; ++t) posix[t] = spec.start_ns / 1e9 + t / spec.rate_hz;
  w.doubles(group + "/posix_time", posix);
  w.doubles(group + "/gps_time", posix);
}

void write_optodas(const std::string& path, const Spec& spec, double data_scale, double sensitivity) {
  Writer w(path);
  w.scalar_int("/fileVersion", 8);
  w.group("/acqSpec");
  w.group("/cableSpec");
  w.group("/header");
  write_matrix(w, "/data", H5T_STD_I16LE, spec.samples, spec.channels, [](size_t t, size_t c) { return value(c, t); });
  w.texts("/header/dimensionNames", {"time", "distance"});
  w.texts("/header/dimensionUnits", {"s", "m"});
  const double dx = spec.spacing_m / 2;  // channels are every 2nd sensing point
  w.doubles("/header/dimensionRanges/dimension0/unitScale", {1.0 / spec.rate_hz}, {1});
  w.doubles("/header/dimensionRanges/dimension0/min", {0}, {1});
  w.doubles("/header/dimensionRanges/dimension0/max", {double(spec.samples - 1)}, {1});
  w.doubles("/header/dimensionRanges/dimension1/unitScale", {dx}, {1});
  std::vector<double> channels(spec.channels);
  for (size_t c = 0; c < spec.channels; ++c) channels[c] = 100 + 2.0 * c;
  w.doubles("/header/channels", channels);
  w.scalar("/header/time", spec.start_ns / 1e9);
  w.scalar("/header/dataScale", data_scale);
  w.doubles("/header/sensitivities", {sensitivity}, {1, 1});
  w.text("/header/unit", "rad/m/s");
  w.text("/header/sensitivityUnits", "rad/(m*strain)");
  w.scalar("/header/gaugeLength", spec.gauge_m);
  w.text("/header/instrument", "OptoDAS-test");
}

void write_febus(const std::string& path, const Spec& spec, size_t blocks, size_t block_rows, size_t overlap_rows,
                 const FebusLayout& layout) {
  Writer w(path);
  const std::string source = "/fa1-00000001/Source1", zone = source + "/Zone1";
  w.group(zone);
  for (const std::string& g : {source, zone}) {  // the newer layout repeats these on the zone
    w.attr_doubles(g, "SamplingRate", {spec.rate_hz});
    w.attr_doubles(g, "AmpliPower", {1});
    w.attr_text(g, "Hostname", "febus-test");
    w.attr_text(g, "Version", "2.3.1");
    if (g == zone && !layout.newer) break;
  }
  w.attr_doubles(source, "WholeExtent", {0, double(spec.channels - 1)});
  const double dt_ms = 1000.0 / spec.rate_hz;
  const double block_time_s = block_rows / spec.rate_hz;
  const size_t rows = block_rows + 2 * overlap_rows;
  const double first_row = layout.newer ? 1000 : 0;
  w.attr_doubles(zone, "Spacing", {spec.spacing_m, dt_ms});
  if (!layout.newer) w.attr_doubles(zone, "BlockRate", {1000.0 / block_time_s});
  w.attr_doubles(zone, "Origin", {5.0, -1.0 * overlap_rows * dt_ms});
  w.attr_doubles(zone, "Extent", {0, double(spec.channels - 1), first_row, first_row + rows - 1});
  w.attr_doubles(zone, "BlockOverlap", {100.0 * 2 * overlap_rows / block_rows});
  w.attr_doubles(zone, "GaugeLength", {spec.gauge_m});
  // Block b row r shows logical time b * block_rows + r - overlap_rows; rows before the record
  // start hold -30000 so a wrong trim is visible.
  std::vector<float> cube(blocks * rows * spec.channels);
  for (size_t b = 0; b < blocks; ++b)
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < spec.channels; ++c) {
        const long long t = static_cast<long long>(b * block_rows + r) - static_cast<long long>(overlap_rows);
        cube[(b * rows + r) * spec.channels + c] = t < 0 ? -30000.0f : value(c, static_cast<size_t>(t));
      }
  w.dataset(zone + "/" + layout.name, H5T_IEEE_F32LE, {blocks, rows, spec.channels}, H5T_NATIVE_FLOAT, cube.data());
  // Each block's time stamp is the time of its first new row (Origin's offset reaches back).
  std::vector<double> times(blocks);
  for (size_t b = 0; b < blocks; ++b)
    times[b] = spec.start_ns / 1e9 + b * block_time_s + (b >= 1 ? layout.first_block_gap_s : 0);
  w.doubles(source + "/time", times);
}

void write_ap_sensing(const std::string& path, const Spec& spec) {
  Writer w(path);
  w.attr_text("/", "AppVersion", "1.0");
  w.attr_text("/", "FileVersion", "4");
  w.attr_int("/", "OpticalChannelNumber", 1);
  write_matrix(w, "/DAS", H5T_IEEE_F32LE, spec.samples, spec.channels, [](size_t t, size_t c) { return value(c, t); });
  w.scalar("/ProcessingServer/DataRate", spec.rate_hz);
  w.scalar("/ProcessingServer/GaugeLength", spec.gauge_m);
  w.scalar("/ProcessingServer/SpatialSampling", spec.spacing_m * 1.0008);  // stated value is off, as in real files
  w.scalar("/ProcessingServer/RadiansToNanoStrain", 115.0);
  w.text("/Metadata/Timestamp", iso(spec.start_ns));
  w.text("/Metadata/Timezone", "UTC");
  w.scalar_int("/Metadata/TraceCount", static_cast<int64_t>(spec.samples));
  w.scalar("/DAQ/PositionStart", 100.0);
  w.scalar("/DAQ/PositionEnd", 100.0 + spec.spacing_m * spec.channels);
  w.text("/DAQ/SerialNumber", "AP-TEST");
  w.group("/Interrogator");
}

void write_silixa_h5(const std::string& path, const Spec& spec) {
  Writer w(path);
  write_matrix(w, "/Acoustic", H5T_STD_I16LE, spec.samples, spec.channels, [](size_t t, size_t c) { return value(c, t); });
  auto num = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return std::string(buf);
  };
  // Silixa writes these as text.
  w.attr_text("/Acoustic", "SamplingFrequency[Hz]", num(spec.rate_hz));
  w.attr_text("/Acoustic", "SpatialResolution[m]", num(spec.spacing_m / 1.25));
  w.attr_text("/Acoustic", "Fibre Length Multiplier", num(1.25));
  w.attr_text("/Acoustic", "StartPosition[m]", num(-8.0));
  w.attr_text("/Acoustic", "MeasureLength[m]", num(1000));
  w.attr_text("/Acoustic", "GaugeLength", num(spec.gauge_m));
  w.attr_text("/Acoustic", "GPSTimeStamp", day_first(spec.start_ns));
  w.attr_text("/Acoustic", "CPUTimeStamp", day_first(spec.start_ns + 2000000));
  w.attr_text("/Acoustic", "PulseWidth[ns]", num(20));
  w.attr_text("/Acoustic", "SystemInfomation.Devices1.SerialNum", "SX-TEST");
}

void write_neubrex(const std::string& path, const Spec& spec) {
  Writer w(path);
  write_matrix(w, "/Acoustic", H5T_IEEE_F32LE, spec.samples, spec.channels, [](size_t t, size_t c) { return value(c, t); });
  w.attr_text("/Acoustic", "NEUBRESCOPE.DAS.Model", "NBX-S4100");
  w.attr_text("/Acoustic", "NEUBRESCOPE.DAS.SerialNum", "NB-TEST");
  w.attr("/Acoustic", "StartPosition", -20.0);
  w.attr("/Acoustic", "StopPosition", -20.0 + spec.spacing_m * spec.channels);
  w.attr_text("/Acoustic", "StartStopPositionUnit", "m");
  w.attr("/Acoustic", "SpatialSamplingInterval", spec.spacing_m);
  w.attr("/Acoustic", "TimeSamplingInterval(seconds)", 1.0 / spec.rate_hz);
  const std::string stamp = iso(spec.start_ns);
  w.attr_text("/Acoustic", "GPSTimeStamp(UTC)", stamp.substr(0, stamp.size() - 1));  // no zone: UTC
  w.attr_text("/Acoustic", "CPUTimeStamp(UTC)", iso(spec.start_ns + 5000000));
  w.attr("/Acoustic", "GaugeLength", spec.gauge_m);
  w.attr_text("/Acoustic", "DataPhysicalUnit", "rad/s");
  w.attr("/Acoustic", "TimeDecimationFilter", 0);
  w.attr("/Acoustic", "DistanceDecimationFilter", 0);
}

void write_gdr(const std::string& path, const Spec& spec, const std::vector<std::string>& dimensions) {
  Writer w(path);
  w.group("/DasMetadata/Interrogator/Acquisition");
  // Variable-length text, as h5py writes it (DASCore compares these as str).
  w.attr_text("/DasMetadata", "MetadataStandard", "DAS-RCN v1.10", true);
  w.attr_text("/DasMetadata", "RawDataStandard", "PRODML v2.2", true);
  w.attr_text("/DasMetadata/Interrogator", "SerialNumber", "GDR-TEST", true);
  const std::string acq = "/DasMetadata/Interrogator/Acquisition";
  w.attr(acq, "GaugeLength", spec.gauge_m);
  w.attr_text(acq, "GaugeLengthUnit", "m", true);
  w.attr(acq, "SpatialSamplingInterval", spec.spacing_m);
  w.attr_text(acq, "SpatialSamplingIntervalUnit", "m", true);
  w.attr_text(acq, "UnitOfMeasure", "strain/s", true);
  write_matrix(w, "/DasRawData/RawData", H5T_IEEE_F32LE, spec.channels, spec.samples,
               [](size_t c, size_t t) { return value(c, t); });
  w.attr_texts("/DasRawData/RawData", "DasDimensions", dimensions, true);
  std::vector<int64_t> times(spec.samples);
  for (size_t t = 0; t < spec.samples; ++t) times[t] = spec.start_ns + static_cast<int64_t>(std::llround(t * 1e9 / spec.rate_hz));
  w.dataset("/DasRawData/DasTimeArray", H5T_STD_I64LE, {spec.samples}, H5T_NATIVE_INT64, times.data());
}

// ---- formats of the field's own software (readers: io/format_field_tools.cpp) ----------

void write_prodml_fbe(const std::string& path, const Spec& spec, size_t bands, bool with_raw) {
  if (with_raw) write_prodml(path, spec, "2.0");
  Writer w = with_raw ? Writer::open_existing(path) : Writer(path);
  const std::string acq = "/Acquisition", fbe = "/Acquisition/Processed/Fbe[0]";
  if (!with_raw) {  // the acquisition as OptaSense writes it beside FBE only
    w.attr_text("/", "uuid", "00000000-0000-0000-0000-000000000000");
    w.group(acq);
    w.attr_text(acq, "schemaVersion", "2.0");
    w.attr_int(acq, "NumberOfLoci", static_cast<int64_t>(spec.channels + 5));
    w.attr_int(acq, "StartLocusIndex", 0);
    w.attr(acq, "SpatialSamplingInterval", spec.spacing_m);
    w.attr_text(acq, "SpatialSamplingIntervalUnit", "m");
    w.attr(acq, "GaugeLength", spec.gauge_m);
    w.attr_text(acq, "uuid", "00000000-0000-0000-0000-000000000001");
    w.attr(acq, "PulseRate", 10000.0);
    w.attr(acq, "PulseWidth", 20.0);
  }
  w.group(fbe);
  w.attr_int(fbe, "NumberOfLoci", static_cast<int64_t>(spec.channels));
  w.attr_int(fbe, "StartLocusIndex", 0);
  w.attr(fbe, "OutputDataRate", spec.rate_hz);
  w.attr_text(fbe, "FbeDataUnit", "rad2/Hz");
  w.attr_int(fbe, "WindowSize", 512);
  std::vector<int64_t> times(spec.samples);
  for (size_t t = 0; t < spec.samples; ++t)
    times[t] = spec.start_ns / 1000 + static_cast<int64_t>(std::llround(t * 1e6 / spec.rate_hz));
  w.dataset(fbe + "/FbeDataTime", H5T_STD_I64LE, {spec.samples}, H5T_NATIVE_INT64, times.data());
  w.attr_text(fbe + "/FbeDataTime", "PartStartTime", iso(times.front() * 1000));
  w.attr_text(fbe + "/FbeDataTime", "PartEndTime", iso(times.back() * 1000));
  for (size_t b = 0; b < bands; ++b) {
    const std::string band = fbe + "/FbeData[" + std::to_string(b) + "]";
    write_matrix(w, band, H5T_IEEE_F32LE, spec.samples, spec.channels,
                 [b](size_t t, size_t c) { return value(c, t) + 1000.0 * b; });
    w.attr_texts(band, "Dimensions", {"time", "locus"});
    w.attr(band, "StartFrequency", 10.0 * b);
    w.attr(band, "EndFrequency", 10.0 * b + 10);
    w.attr_text(band, "PartStartTime", iso(times.front() * 1000));
    w.attr_text(band, "PartEndTime", iso(times.back() * 1000));
  }
}

void write_dasdae(const std::string& path, const Spec& spec, size_t patches) {
  Writer w(path);  // as DASCore writes it through PyTables: fixed-length text, bitfield bools
  w.attr_utf8("/", "__format__", "DASDAE");
  w.attr_utf8("/", "__DASDAE_version__", "1");
  w.attr_utf8("/", "__dascore__version__", "0.1.24");
  w.group("/waveforms");
  for (size_t p = 0; p < patches; ++p) {
    const int64_t start = spec.start_ns + static_cast<int64_t>(std::llround(p * spec.samples * 1e9 / spec.rate_hz));
    const std::string g = "/waveforms/DAS__patch_" + std::to_string(p);
    w.group(g);
    w.attr_utf8(g, "_dims", "distance,time");
    w.attr_utf8(g, "_cdims_distance", "distance");
    w.attr_utf8(g, "_cdims_time", "time");
    w.attr_utf8(g, "_attrs_data_units", "m / s");
    w.attr_utf8(g, "_attrs_data_type", "velocity");
    write_matrix(w, g + "/data", H5T_IEEE_F32LE, spec.channels, spec.samples,
                 [p](size_t c, size_t t) { return value(c, t) + 100.0 * p; });
    std::vector<int64_t> times(spec.samples);
    for (size_t t = 0; t < spec.samples; ++t) times[t] = start + static_cast<int64_t>(std::llround(t * 1e9 / spec.rate_hz));
    w.dataset(g + "/_coord_time", H5T_STD_I64LE, {spec.samples}, H5T_NATIVE_INT64, times.data());
    w.attr_bits(g + "/_coord_time", "is_datetime64", true);
    w.attr_bits(g + "/_coord_time", "is_timedelta64", false);
    std::vector<double> distance(spec.channels);
    for (size_t c = 0; c < spec.channels; ++c) distance[c] = 100 + c * spec.spacing_m;
    w.doubles(g + "/_coord_distance", distance);
    w.attr_bits(g + "/_coord_distance", "is_datetime64", false);
    w.attr_bits(g + "/_coord_distance", "is_timedelta64", false);
  }
}

void write_h5simple(const std::string& path, const Spec& spec, bool with_distance) {
  Writer w(path);  // as the FORESEE data on PubDAS: raw (time x channel) and posix seconds
  write_matrix(w, "/raw", H5T_IEEE_F32LE, spec.samples, spec.channels, [](size_t t, size_t c) { return value(c, t); });
  std::vector<double> seconds(spec.samples);
  for (size_t t = 0; t < spec.samples; ++t) seconds[t] = spec.start_ns * 1e-9 + t / spec.rate_hz;
  w.doubles("/timestamp", seconds);
  if (with_distance) {
    std::vector<double> distance(spec.channels);
    for (size_t c = 0; c < spec.channels; ++c) distance[c] = 50 + c * spec.spacing_m;
    w.doubles("/distance", distance);
  }
}

void write_xdas(const std::string& path, const Spec& spec, const std::vector<int64_t>& time_ties) {
  Writer w(path);  // as xdas writes through h5netcdf: netCDF-4 dimension scales, CF tie points
  w.attr_text("/", "Conventions", "CF-1.9", true);
  w.attr_text("/", "_NCProperties", "version=2,h5netcdf=1.6.4,hdf5=1.14.6,h5py=3.14.0");
  const std::vector<int64_t> ties = time_ties.empty() ? std::vector<int64_t>{0, int64_t(spec.samples) - 1} : time_ties;
  // Dimension scales: time, distance, and the tie-point dimensions.
  const std::vector<std::pair<std::string, size_t>> dims = {
      {"time", spec.samples}, {"distance", spec.channels}, {"time_points", ties.size()}, {"distance_points", 2}};
  for (size_t k = 0; k < dims.size(); ++k) {
    const auto& [name, n] = dims[k];
    w.dataset("/" + name, H5T_IEEE_F32BE, {n});
    w.attr_text("/" + name, "CLASS", "DIMENSION_SCALE");
    w.attr_text("/" + name, "NAME", "This is a netCDF dimension but not a netCDF variable." + std::to_string(n));
    w.attr_int("/" + name, "_Netcdf4Dimid", static_cast<int64_t>(k));
  }
  write_matrix(w, "/__values__", H5T_IEEE_F64LE, spec.samples, spec.channels, [](size_t t, size_t c) { return value(c, t); });
  w.attr_ints("/__values__", "_Netcdf4Coordinates", {0, 1});
  w.attr_text("/__values__", "coordinate_interpolation",
              "time: time_indices time_values distance: distance_indices distance_values", true);
  w.dimension_list("/__values__", {"/time", "/distance"});
  // Tie points: times in milliseconds since the start's midnight, distances in metres.
  const int64_t day_ns = 86400000000000LL, midnight = spec.start_ns / day_ns * day_ns;
  const double step_ms = 1000.0 / spec.rate_hz;
  std::vector<int64_t> time_values;
  for (size_t k = 0; k < ties.size(); ++k) {
    // A later tie that repeats the index before it + 1 marks a gap of one step in the fixture.
    const bool gap = k > 0 && ties[k] == ties[k - 1] + 1;
    time_values.push_back((spec.start_ns - midnight) / 1000000 + std::llround(ties[k] * step_ms) + (gap ? 1000 : 0));
  }
  w.dataset("/time_indices", H5T_STD_I64LE, {ties.size()}, H5T_NATIVE_INT64, ties.data());
  w.dataset("/time_values", H5T_STD_I64LE, {ties.size()}, H5T_NATIVE_INT64, time_values.data());
  w.attr_text("/time_values", "units", "milliseconds since " + iso(midnight).substr(0, 10) + " 00:00:00", true);
  w.attr_text("/time_values", "calendar", "proleptic_gregorian", true);
  const std::vector<int64_t> distance_indices = {0, int64_t(spec.channels) - 1};
  w.dataset("/distance_indices", H5T_STD_I64LE, {2}, H5T_NATIVE_INT64, distance_indices.data());
  w.doubles("/distance_values", {0, (spec.channels - 1) * spec.spacing_m});
  for (const char* tie : {"/time_indices", "/time_values"}) w.attr_ints(tie, "_Netcdf4Dimid", {2});
  for (const char* tie : {"/distance_indices", "/distance_values"}) w.attr_ints(tie, "_Netcdf4Dimid", {3});
}

void write_dasvader(const std::string& path, const Spec& spec) {
  // As JLD2 writes DASVader's struct: a 512-byte user block, committed types under /_types,
  // /dDAS a compound of object references to anonymous arrays and StepRangeLen structs.
  Writer w(path, 512);
  w.group("/_types");
  struct Twice { double hi, lo; };
  struct Range { Twice ref, step; int64_t len, offset; };
  struct Header { hobj_ref_t data; Range time; hobj_ref_t htime; Range offset; };
  Handle twice(H5Tcreate(H5T_COMPOUND, sizeof(Twice)));
  H5Tinsert(twice.get(), "hi", offsetof(Twice, hi), H5T_IEEE_F64LE);
  H5Tinsert(twice.get(), "lo", offsetof(Twice, lo), H5T_IEEE_F64LE);
  Handle range(H5Tcreate(H5T_COMPOUND, sizeof(Range)));
  H5Tinsert(range.get(), "ref", offsetof(Range, ref), twice.get());
  H5Tinsert(range.get(), "step", offsetof(Range, step), twice.get());
  H5Tinsert(range.get(), "len", offsetof(Range, len), H5T_STD_I64LE);
  H5Tinsert(range.get(), "offset", offsetof(Range, offset), H5T_STD_I64LE);
  Handle header_type(H5Tcreate(H5T_COMPOUND, sizeof(Header)));
  H5Tinsert(header_type.get(), "data", offsetof(Header, data), H5T_STD_REF_OBJ);
  H5Tinsert(header_type.get(), "time", offsetof(Header, time), range.get());
  H5Tinsert(header_type.get(), "htime", offsetof(Header, htime), H5T_STD_REF_OBJ);
  H5Tinsert(header_type.get(), "offset", offsetof(Header, offset), range.get());
  check(H5Tcommit2(w.id(), "/_types/00000004", header_type.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "commit type");

  // data: Julia's time x distance matrix, column-major, is distance x time to HDF5.
  std::vector<float> samples(spec.channels * spec.samples);
  for (size_t c = 0; c < spec.channels; ++c)
    for (size_t t = 0; t < spec.samples; ++t) samples[c * spec.samples + t] = value(c, t);
  const hsize_t data_dims[2] = {spec.channels, spec.samples};
  Handle data_space(H5Screate_simple(2, data_dims, nullptr));
  Handle data(H5Dcreate_anon(w.id(), H5T_IEEE_F32LE, data_space.get(), H5P_DEFAULT, H5P_DEFAULT));
  check(H5Dwrite(data.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, samples.data()), "write data");
  // htime: Julia DateTime (milliseconds since 0000-12-31), one per sample.
  std::vector<int64_t> htime(spec.samples);
  for (size_t t = 0; t < spec.samples; ++t)
    htime[t] = spec.start_ns / 1000000 + 62135683200000LL + std::llround(t * 1000.0 / spec.rate_hz);
  Handle value_t(H5Tcreate(H5T_COMPOUND, 8)), periods_t(H5Tcreate(H5T_COMPOUND, 8)), instant_t(H5Tcreate(H5T_COMPOUND, 8));
  H5Tinsert(value_t.get(), "value", 0, H5T_STD_I64LE);
  H5Tinsert(periods_t.get(), "periods", 0, value_t.get());
  H5Tinsert(instant_t.get(), "instant", 0, periods_t.get());
  const hsize_t nt = spec.samples;
  Handle htime_space(H5Screate_simple(1, &nt, nullptr));
  Handle htime_set(H5Dcreate_anon(w.id(), instant_t.get(), htime_space.get(), H5P_DEFAULT, H5P_DEFAULT));
  check(H5Dwrite(htime_set.get(), instant_t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, htime.data()), "write htime");

  // JLD2's objects have no link; a reference count of 1 keeps them, as in JLD2's files.
  check(H5Oincr_refcount(data.get()), "keep data");
  check(H5Oincr_refcount(htime_set.get()), "keep htime");
  Header header{};
  check(H5Rcreate(&header.data, data.get(), ".", H5R_OBJECT, -1), "reference data");
  check(H5Rcreate(&header.htime, htime_set.get(), ".", H5R_OBJECT, -1), "reference htime");
  // StepRangeLen(ref, step, len, offset): element k (1-based) is ref + (k - offset) * step.
  header.time = {{0, 0}, {1.0 / spec.rate_hz, 0}, int64_t(spec.samples), 1};
  header.offset = {{200, 0}, {spec.spacing_m, 0}, int64_t(spec.channels), 1};
  w.dataset("/dDAS", header_type.get(), {}, header_type.get(), &header);
}

// ---- byte-level and edit helpers -------------------------------------------------------

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(to, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
}

void truncate_file(const std::string& path, size_t keep_bytes) { std::filesystem::resize_file(path, keep_bytes); }

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

size_t file_size(const std::string& path) { return static_cast<size_t>(std::filesystem::file_size(path)); }

namespace {
Handle open_rw(const std::string& path) {
  h5::silence_errors();
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  if (!f.valid()) throw std::runtime_error("fixture: cannot open " + path);
  return f;
}
}  // namespace

void delete_object(const std::string& path, const std::string& object) {
  Handle f = open_rw(path);
  check(H5Ldelete(f.get(), object.c_str(), H5P_DEFAULT), "delete " + object);
}

void delete_attribute(const std::string& path, const std::string& object, const std::string& attribute) {
  Handle f = open_rw(path);
  check(H5Adelete_by_name(f.get(), object.c_str(), attribute.c_str(), H5P_DEFAULT), "delete attribute " + attribute);
}

void replace_dataset(const std::string& path, const std::string& object, const std::vector<size_t>& dims, bool as_text) {
  Handle f = open_rw(path);
  // Keep the attributes the readers look at on the replacement.
  std::vector<std::pair<std::string, std::vector<std::string>>> text_attrs;
  {
    Handle d(H5Dopen2(f.get(), object.c_str(), H5P_DEFAULT));
    H5O_info_t info;
    H5Oget_info(d.get(), &info);
    for (hsize_t i = 0; i < info.num_attrs; ++i) {
      Handle a(H5Aopen_by_idx(d.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT));
      char name[256] = {};
      H5Aget_name(a.get(), sizeof name, name);
      Handle type(H5Aget_type(a.get()));
      if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) continue;
      Handle space(H5Aget_space(a.get()));
      const size_t n = static_cast<size_t>(H5Sget_simple_extent_npoints(space.get()));
      const size_t width = H5Tget_size(type.get());
      std::vector<char> buf(n * width);
      H5Aread(a.get(), type.get(), buf.data());
      std::vector<std::string> items;
      for (size_t k = 0; k < n; ++k) items.emplace_back(buf.data() + k * width, strnlen(buf.data() + k * width, width));
      text_attrs.emplace_back(name, items);
    }
  }
  check(H5Ldelete(f.get(), object.c_str(), H5P_DEFAULT), "delete " + object);
  std::vector<hsize_t> hd(dims.begin(), dims.end());
  Handle space(H5Screate_simple(static_cast<int>(hd.size()), hd.data(), nullptr));
  Handle type(H5Tcopy(as_text ? H5T_C_S1 : H5T_IEEE_F64LE));
  if (as_text) H5Tset_size(type.get(), 8);
  Handle d(H5Dcreate2(f.get(), object.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (!d.valid()) throw std::runtime_error("fixture: cannot recreate " + object);
  for (const auto& [name, items] : text_attrs) {
    size_t width = 1;
    for (const auto& s : items) width = std::max(width, s.size());
    std::vector<char> buf(items.size() * width, '\0');
    for (size_t k = 0; k < items.size(); ++k) std::memcpy(buf.data() + k * width, items[k].data(), items[k].size());
    const hsize_t n = items.size();
    Handle aspace(H5Screate_simple(1, &n, nullptr));
    Handle t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t.get(), width);
    Handle a(H5Acreate2(d.get(), name.c_str(), t.get(), aspace.get(), H5P_DEFAULT, H5P_DEFAULT));
    H5Awrite(a.get(), t.get(), buf.data());
  }
}

void set_sample(const std::string& path, const std::string& object, size_t row, size_t col, double v) {
  Handle f = open_rw(path);
  Handle d(H5Dopen2(f.get(), object.c_str(), H5P_DEFAULT));
  Handle fspace(H5Dget_space(d.get()));
  const hsize_t start[2] = {row, col}, count[2] = {1, 1};
  check(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "select");
  Handle mspace(H5Screate(H5S_SCALAR));
  check(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, mspace.get(), fspace.get(), H5P_DEFAULT, &v), "write sample");
}

}  // namespace dasnet::fixtures
