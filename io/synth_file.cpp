#include "io/synth_file.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/das_time.h"
#include "io/durable_file.h"
#include "io/hdf5_util.h"

namespace dasnet {

namespace {

using h5::Handle;

// MATLAB v7.3 files are HDF5 files whose 512-byte userblock starts with a MAT-file text header,
// then the subsystem offset, version 0x0200 and the endian indicator "IM".
void write_mat_userblock(const std::string& path) {
  char header[128];
  std::memset(header, ' ', sizeof(header));
  std::string text = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: dasnet synth, HDF5 schema 1.00 .";
  std::memcpy(header, text.data(), std::min(text.size(), size_t(116)));
  std::memset(header + 116, 0, 8);
  header[124] = 0x00;
  header[125] = 0x02;
  header[126] = 'I';
  header[127] = 'M';
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  if (!f) throw std::runtime_error(path + ": cannot reopen to write the MAT-file header");
  bool ok = std::fwrite(header, 1, sizeof(header), f) == sizeof(header);
  ok = std::fclose(f) == 0 && ok;
  if (!ok) throw std::runtime_error(path + ": cannot write the MAT-file header");
}

void set_matlab_class(hid_t obj, const std::string& cls) { h5::set_attr(obj, "MATLAB_class", cls); }

void write_doubles(hid_t parent, const std::string& name, const std::vector<double>& values,
                   const std::vector<hsize_t>& dims) {
  Handle d = h5::create_dataset(parent, name, H5T_IEEE_F64LE, dims);
  if (H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw std::runtime_error("cannot write " + name);
  set_matlab_class(d, "double");
}

void write_truth_group(hid_t file, const SynthOptions& o, const SynthScene& scene, const std::vector<uint8_t>& cells,
                       size_t rows, size_t cols) {
  Handle g = h5::create_group(file, "dasnet_truth");
  h5::set_attr(g, "class_names", truth_class_names());
  h5::set_attr(g, "cell_channels", int64_t(kTruthCellChannels));
  h5::set_attr(g, "cell_samples", int64_t(kTruthCellSamples));
  h5::set_attr(g, "channels", int64_t(o.channels));
  h5::set_attr(g, "samples", int64_t(o.total_samples()));
  h5::set_attr(g, "seed", int64_t(o.seed));
  h5::set_attr(g, "vehicles", int64_t(std::count_if(scene.sources.begin(), scene.sources.end(),
                                                        [](const WaveSource& s) { return !s.saturating; })));
  Handle c = h5::create_dataset(g, "cells", H5T_STD_U8LE, {rows, cols}, {std::min<hsize_t>(rows, 64), 1024}, 4);
  if (rows > 0 && cols > 0) h5::write_box(c, H5T_NATIVE_UINT8, cells.data(), {0, 0}, {rows, cols});
  std::vector<int64_t> boxes;
  const double fs = o.rate_hz;
  auto clamp_t = [&](double s) { return int64_t(std::clamp(s * fs, 0.0, double(o.total_samples()))); };
  for (const auto& s : scene.sources) {
    if (!s.saturating) continue;
    int64_t ch = int64_t(s.start_position_m / o.spacing_m);
    boxes.insert(boxes.end(), {int64_t(TruthClass::saturated), std::max<int64_t>(0, ch - 10),
                               std::min<int64_t>(o.channels, ch + 11), clamp_t(s.on_s), clamp_t(s.off_s)});
  }
  for (const auto& e : scene.noncoherent)
    boxes.insert(boxes.end(), {int64_t(TruthClass::noncoherent), e.first_channel, e.end_channel, clamp_t(e.on_s),
                               clamp_t(e.off_s)});
  Handle b = h5::create_dataset(g, "boxes", H5T_STD_I64LE, {hsize_t(boxes.size() / 5), 5});
  if (!boxes.empty()) H5Dwrite(b, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, boxes.data());
  h5::set_attr(b, "columns", std::vector<std::string>{"class", "first_channel", "end_channel", "first_sample",
                                                          "end_sample"});
}

}  // namespace

SynthFormat parse_synth_format(const std::string& format, const std::string& layout) {
  if (format == "dsi") return SynthFormat::dsi;
  if (format != "prodml") throw UsageError("--format must be prodml or dsi, got '" + format + "'");
  if (layout == "time-locus" || layout.empty()) return SynthFormat::prodml_time_locus;
  if (layout == "locus-time") return SynthFormat::prodml_locus_time;
  throw UsageError("--layout must be time-locus or locus-time, got '" + layout + "'");
}

namespace {

// The datasets the samples stream into: DSI has no time axis dataset.
struct RawDatasets {
  Handle data, time;
};

RawDatasets create_dsi_layout(hid_t file, const SynthOptions& o, const SynthWriteOptions& w) {
  const hsize_t channels = hsize_t(o.channels), total = hsize_t(o.total_samples());
  Handle g = h5::create_group(file, w.dsi_key);
  set_matlab_class(g, "struct");
  // fh: MATLAB column vector (HDF5 dims 1 x N). The sample interval sits at 0-based element 7
  // of the flattened header (MATLAB fh(8)), where io/format_dsi.cpp reads it (the study's
  // "fh[7]" was Python indexing). The other slots carry what this generator knows.
  std::vector<double> fh(32, 0.0);
  fh[0] = 1;                          // header version
  fh[5] = double(total);              // samples per channel
  fh[6] = double(channels);           // channels
  fh[7] = 1.0 / o.rate_hz;            // sample interval, s
  fh[8] = o.spacing_m;                // channel spacing, m
  fh[9] = double(o.start_time_ns / 1000000000);  // start, Unix seconds
  write_doubles(g, "fh", fh, {1, fh.size()});
  std::vector<double> th(size_t(channels) * 2);  // MATLAB channels x 2: HDF5 dims 2 x channels
  for (hsize_t c = 0; c < channels; ++c) {
    th[c] = double(c + 1);
    th[channels + c] = double(c) * o.spacing_m;
  }
  write_doubles(g, "th", th, {2, channels});
  RawDatasets raw;
  raw.data = h5::create_dataset(g, "dat", H5T_STD_I16LE, {channels, total},
                                    {std::min<hsize_t>(channels, 64), std::min<hsize_t>(total, 4096)});
  set_matlab_class(raw.data, "int16");
  return raw;
}

RawDatasets create_prodml_layout(hid_t file, const SynthOptions& o, bool time_major) {
  const hsize_t channels = hsize_t(o.channels), total = hsize_t(o.total_samples());
  const std::string start = format_iso8601_ns(o.start_time_ns, IsoStyle::prodml);
  const int64_t end_ns = o.start_time_ns + int64_t(std::llround(double(total > 0 ? total - 1 : 0) * 1e9 / o.rate_hz));
  const std::string end = format_iso8601_ns(end_ns, IsoStyle::prodml);
  h5::set_attr(file, "uuid", "dasnet-synth-" + std::to_string(o.seed));
  Handle acq = h5::create_group(file, "Acquisition");
  h5::set_attr(acq, "AcquisitionId", "dasnet-synth-" + std::to_string(o.seed));
  h5::set_attr(acq, "MeasurementStartTime", start);
  h5::set_attr(acq, "NumberOfLoci", int64_t(channels));
  h5::set_attr(acq, "SpatialSamplingInterval", o.spacing_m);
  h5::set_attr(acq, "SpatialSamplingIntervalUnit", "m");
  h5::set_attr(acq, "StartLocusIndex", int64_t(0));
  h5::set_attr(acq, "GaugeLength", 2 * o.spacing_m);
  h5::set_attr(acq, "GaugeLengthUnit", "m");
  h5::set_attr(acq, "MaximumFrequency", o.rate_hz / 2);
  h5::set_attr(acq, "MinimumFrequency", 0.0);
  h5::set_attr(acq, "VendorCode", "dasnet_synth");
  h5::set_attr(acq, "schemaVersion", "2.0");
  Handle raw_group = h5::create_group(acq, "Raw[0]");
  h5::set_attr(raw_group, "NumberOfLoci", int64_t(channels));
  h5::set_attr(raw_group, "OutputDataRate", o.rate_hz);
  h5::set_attr(raw_group, "RawDataUnit", "counts");
  h5::set_attr(raw_group, "RawDescription", "Strain rate (synthetic)");
  h5::set_attr(raw_group, "StartLocusIndex", int64_t(0));
  std::vector<hsize_t> dims = time_major ? std::vector<hsize_t>{total, channels} : std::vector<hsize_t>{channels, total};
  std::vector<hsize_t> chunk = time_major ? std::vector<hsize_t>{std::min<hsize_t>(total, 1024), std::min<hsize_t>(channels, 256)}
                                          : std::vector<hsize_t>{std::min<hsize_t>(channels, 64), std::min<hsize_t>(total, 4096)};
  RawDatasets raw;
  raw.data = h5::create_dataset(raw_group, "RawData", H5T_STD_I16LE, dims, chunk);
  h5::set_attr(raw.data, "Count", int64_t(total * channels));
  h5::set_attr(raw.data, "Dimensions", time_major ? std::vector<std::string>{"time", "locus"}
                                                      : std::vector<std::string>{"locus", "time"});
  h5::set_attr(raw.data, "PartStartTime", start);
  h5::set_attr(raw.data, "PartEndTime", end);
  h5::set_attr(raw.data, "StartIndex", int64_t(0));
  raw.time = h5::create_dataset(raw_group, "RawDataTime", H5T_STD_I64LE, {total}, {std::min<hsize_t>(total, 65536)});
  h5::set_attr(raw.time, "Count", int64_t(total));
  h5::set_attr(raw.time, "PartStartTime", start);
  h5::set_attr(raw.time, "PartEndTime", end);
  h5::set_attr(raw.time, "StartIndex", int64_t(0));
  h5::set_attr(raw.time, "StartTime", start);
  return raw;
}

// Streams the synthesized samples into `raw` and returns the ground-truth cells.
std::vector<uint8_t> write_samples(const RawDatasets& raw, const SynthOptions& o, const SynthScene& scene,
                                   const SynthWriteOptions& w, bool time_major, size_t cell_rows, size_t cell_cols) {
  const hsize_t channels = hsize_t(o.channels), total = hsize_t(o.total_samples());
  Synthesizer synth(o, scene);
  std::vector<float> block;
  std::vector<uint8_t> block_truth;
  std::vector<int16_t> out;
  std::vector<int64_t> times;
  std::vector<uint8_t> cells(cell_rows * cell_cols, 0);
  size_t t0 = 0;
  while (size_t n = synth.next_block(block, block_truth)) {
    out.resize(block.size());
    if (time_major) {
      for (size_t c = 0; c < channels; ++c)
        for (size_t i = 0; i < n; ++i) out[i * channels + c] = int16_t(block[c * n + i]);
      h5::write_box(raw.data, H5T_NATIVE_INT16, out.data(), {t0, 0}, {n, channels});
    } else {
      for (size_t k = 0; k < block.size(); ++k) out[k] = int16_t(block[k]);
      h5::write_box(raw.data, H5T_NATIVE_INT16, out.data(), {0, t0}, {channels, n});
    }
    if (raw.time.valid()) {
      times.resize(n);
      // Integer microseconds from the start, rounded per sample so no error accumulates.
      for (size_t i = 0; i < n; ++i)
        times[i] = o.start_time_ns / 1000 + int64_t(std::llround(double(t0 + i) * 1e6 / o.rate_hz));
      h5::write_box(raw.time, H5T_NATIVE_INT64, times.data(), {t0}, {n});
    }
    const size_t block_cols = (n + kTruthCellSamples - 1) / kTruthCellSamples;
    const size_t col0 = t0 / kTruthCellSamples;
    for (size_t r = 0; r < cell_rows; ++r)
      std::copy(block_truth.begin() + r * block_cols, block_truth.begin() + (r + 1) * block_cols,
                cells.begin() + r * cell_cols + col0);
    t0 += n;
    if (w.progress) w.progress(t0, size_t(total));
  }
  return cells;
}

}  // namespace

void write_synthetic_record(const std::string& path, const SynthOptions& o, const SynthScene& scene,
                            const SynthWriteOptions& w) {
  o.validate();
  const bool dsi = w.format == SynthFormat::dsi;
  const bool time_major = w.format == SynthFormat::prodml_time_locus;
  const size_t cell_rows = (size_t(o.channels) + kTruthCellChannels - 1) / kTruthCellChannels;
  const size_t cell_cols = (o.total_samples() + kTruthCellSamples - 1) / kTruthCellSamples;
  write_file_atomically(path, [&](const std::string& tmp) {
    Handle file = h5::create_file(tmp, dsi ? 512 : 0);
    {
      const RawDatasets raw = dsi ? create_dsi_layout(file, o, w) : create_prodml_layout(file, o, time_major);
      const std::vector<uint8_t> cells = write_samples(raw, o, scene, w, time_major, cell_rows, cell_cols);
      write_truth_group(file, o, scene, cells, cell_rows, cell_cols);
    }
    h5::close_file(file, tmp);
    if (dsi) write_mat_userblock(tmp);
  });
}

TruthClass TruthMap::patch_class(size_t ch0, size_t nch, size_t t0, size_t nt) const {
  if (empty() || nch == 0 || nt == 0) return TruthClass::noise;
  size_t r0 = ch0 / size_t(cell_channels), r1 = std::min(rows, (ch0 + nch + cell_channels - 1) / size_t(cell_channels));
  size_t c0 = t0 / size_t(cell_samples), c1 = std::min(cols, (t0 + nt + cell_samples - 1) / size_t(cell_samples));
  size_t counts[kNumTruthClasses] = {0, 0, 0, 0}, total = 0;
  for (size_t r = r0; r < r1; ++r)
    for (size_t c = c0; c < c1; ++c) {
      uint8_t v = cells[r * cols + c];
      if (v < kNumTruthClasses) ++counts[v];
      ++total;
    }
  if (total == 0) return TruthClass::noise;
  auto share = [&](TruthClass k) { return double(counts[int(k)]) / double(total); };
  if (share(TruthClass::saturated) >= 0.02) return TruthClass::saturated;
  if (share(TruthClass::waves) >= 0.2) return TruthClass::waves;
  if (share(TruthClass::noncoherent) >= 0.2) return TruthClass::noncoherent;
  return TruthClass::noise;
}

TruthMap read_truth(const std::string& path) {
  TruthMap map;
  const h5::File file(path);
  if (!file.exists("dasnet_truth/cells")) return map;
  const h5::Node g = file.group("dasnet_truth");
  const h5::Node cells = file.dataset("dasnet_truth/cells");
  auto dims = cells.shape();
  if (dims.size() != 2) throw std::runtime_error(path + ": dasnet_truth/cells must be 2-D");
  map.rows = dims[0];
  map.cols = dims[1];
  map.cell_channels = int(g.attr_int64("cell_channels"));
  map.cell_samples = int(g.attr_int64("cell_samples"));
  map.channels = size_t(g.attr_int64("channels"));
  map.samples = size_t(g.attr_int64("samples"));
  map.class_names = g.attr_strings("class_names");
  if (map.cell_channels < 1 || map.cell_samples < 1) throw std::runtime_error(path + ": dasnet_truth: bad cell size");
  map.cells.resize(map.rows * map.cols);
  if (!map.cells.empty()) cells.read_box(H5T_NATIVE_UINT8, map.cells.data(), {0, 0}, {map.rows, map.cols});
  return map;
}

}  // namespace dasnet
