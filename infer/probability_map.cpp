#include "infer/probability_map.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "engine/tensor.h"
#include "engine/trainer.h"
#include "io/das_formats.h"
#include "io/hdf5_util.h"
#include "io/patch_image.h"
#include "io/png_image.h"

namespace dasnet {

namespace {

size_t raw_element_bytes(const std::string& type) {
  if (type == "int8" || type == "uint8") return 1;
  if (type == "int16" || type == "uint16") return 2;
  if (type == "float64" || type == "int64" || type == "uint64") return 8;
  return 4;
}

// Accumulates overlap-weighted P(usable) per cell.
struct CellAccumulator {
  size_t rows, cols;
  int cell_c, cell_t;
  size_t channels, samples;
  std::vector<double> sum, weight;
  void add(size_t c0, int wc, size_t t0, int wt, float p) {
    const size_t c1 = c0 + size_t(wc), t1 = t0 + size_t(wt);
    for (size_t r = c0 / cell_c; r < rows && r * cell_c < c1; ++r) {
      size_t oc = std::min(c1, std::min(channels, (r + 1) * cell_c)) - std::max(c0, r * cell_c);
      for (size_t c = t0 / cell_t; c < cols && c * cell_t < t1; ++c) {
        size_t ot = std::min(t1, std::min(samples, (c + 1) * cell_t)) - std::max(t0, c * cell_t);
        double w = double(oc) * double(ot);
        sum[r * cols + c] += w * p;
        weight[r * cols + c] += w;
      }
    }
  }
};

}  // namespace

double ProbabilityMap::distance_m(size_t r) const {
  double centre = std::min(double(record_channels), (r + 0.5) * cell_channels) - 0.5;
  return distance_start_m + centre * channel_spacing_m;
}

double ProbabilityMap::time_s(size_t c) const {
  double centre = std::min(double(record_samples), (c + 0.5) * cell_samples) - 0.5;
  return sampling_rate_hz > 0 ? centre / sampling_rate_hz : centre;
}

std::vector<size_t> window_starts(size_t length, int window, int stride) {
  std::vector<size_t> starts;
  if (length < size_t(window)) return starts;
  for (size_t s = 0; s + size_t(window) <= length; s += size_t(stride)) starts.push_back(s);
  if (starts.back() + size_t(window) < length) starts.push_back(length - size_t(window));
  return starts;
}

ProbabilityMap infer_probability_map(Network& net, const ModelConfig& model, const std::string& path,
                                     const InferOptions& options) {
  return infer_probability_map(net, model, DasSource::file(path), options);
}

ProbabilityMap infer_probability_map(Network& net, const ModelConfig& model, const DasSource& source,
                                     const InferOptions& options) {
  const std::string& path = source.name();
  const int wc = model.height, wt = model.image_width;
  const int sc = options.stride_channels > 0 ? options.stride_channels : wc;
  const int st = options.stride_samples > 0 ? options.stride_samples : wt;
  if (wc % sc != 0 || wt % st != 0)
    throw UsageError("--stride " + std::to_string(sc) + "x" + std::to_string(st) + " must divide the model's image size " +
                     std::to_string(wc) + "x" + std::to_string(wt));
  if (options.batch_size < 1) throw UsageError("--batch-size must be >= 1");
  const auto started = std::chrono::steady_clock::now();
  const DasInfo& info = source.info();
  ProbabilityMap map;
  map.source = path;
  map.format = info.format;
  map.record_channels = info.num_channels;
  map.record_samples = info.num_samples;
  map.cell_channels = sc;
  map.cell_samples = st;
  map.sampling_rate_hz = info.sampling_rate_hz;
  map.channel_spacing_m = info.channel_spacing_m;
  map.distance_start_m = info.distance_start_m;
  map.start_time_ns = info.start_time_ns;
  auto channel_starts = window_starts(info.num_channels, wc, sc);
  auto time_starts = window_starts(info.num_samples, wt, st);
  if (channel_starts.empty() || time_starts.empty())
    throw std::runtime_error(path + ": record of " + std::to_string(info.num_channels) + " channels x " +
                             std::to_string(info.num_samples) + " samples is smaller than the model's " +
                             std::to_string(wc) + " x " + std::to_string(wt) + " image");
  map.rows = (info.num_channels + sc - 1) / sc;
  map.cols = (info.num_samples + st - 1) / st;
  CellAccumulator acc{map.rows, map.cols, sc, st, info.num_channels, info.num_samples,
                      std::vector<double>(map.rows * map.cols, 0.0), std::vector<double>(map.rows * map.cols, 0.0)};

  const int in_c = model.in_channels;
  const size_t plane = size_t(wc) * wt, image = plane * in_c;
  std::vector<float> batch(size_t(options.batch_size) * image);
  std::vector<std::pair<size_t, size_t>> batch_origin;  // (channel, sample) per image in the batch
  std::vector<uint8_t> bytes(plane);
  auto flush = [&] {
    if (batch_origin.empty()) return;
    auto p = predict_p_usable(net, model.mode, batch.data(), int(batch_origin.size()));
    for (size_t i = 0; i < batch_origin.size(); ++i) acc.add(batch_origin[i].first, wc, batch_origin[i].second, wt, p[i]);
    map.windows += batch_origin.size();
    batch_origin.clear();
  };

  const double element = raw_element_bytes(info.raw_type);
  const double total_bytes = double(info.num_channels) * double(info.num_samples) * element;
  // Time chunks: as many window starts as fit in max_chunk_bytes of float samples.
  const size_t max_span = std::max<size_t>(size_t(wt), options.max_chunk_bytes / (sizeof(float) * info.num_channels));
  size_t first = 0;
  size_t read_until = 0;  // samples already counted as read
  while (first < time_starts.size()) {
    size_t last = first;
    while (last + 1 < time_starts.size() && time_starts[last + 1] + wt - time_starts[first] <= max_span) ++last;
    ReadWindow window;
    window.first_sample = time_starts[first];
    window.num_samples = time_starts[last] + wt - time_starts[first];
    DasRecord record = source.read(window);
    const size_t new_end = window.first_sample + window.num_samples;
    map.raw_bytes += double(new_end - std::max(read_until, window.first_sample)) * info.num_channels * element;
    read_until = new_end;
    for (size_t ti = first; ti <= last; ++ti) {
      const size_t t_local = time_starts[ti] - window.first_sample;
      for (size_t c0 : channel_starts) {
        const float* patch = record.data.data() + c0 * record.num_samples + t_local;
        if (patch_to_image(patch, record.num_samples, wc, wt, ImageColor::gray, bytes.data()) != PatchImageStatus::ok) {
          ++map.skipped_windows;
          continue;
        }
        float* dst = batch.data() + batch_origin.size() * image;
        for (size_t k = 0; k < plane; ++k) dst[k] = float(bytes[k]) / 255.0f;
        for (int ch = 1; ch < in_c; ++ch) std::copy(dst, dst + plane, dst + ch * plane);  // "RGB" = gray x 3
        batch_origin.push_back({c0, time_starts[ti]});
        if (int(batch_origin.size()) == options.batch_size) flush();
      }
    }
    flush();
    if (options.progress) options.progress(map.raw_bytes, total_bytes);
    first = last + 1;
  }
  map.p.resize(map.rows * map.cols);
  for (size_t i = 0; i < map.p.size(); ++i)
    map.p[i] = acc.weight[i] > 0 ? float(acc.sum[i] / acc.weight[i]) : std::nanf("");
  map.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return map;
}

void write_probability_map_h5(const std::string& path, const ProbabilityMap& map, const std::string& checkpoint) {
  using h5::Handle;
  h5::silence_errors();
  h5::write_file_atomically(path, [&](hid_t file) {
    h5::set_attr(file, "format", "dasnet-probability-map");
    h5::set_attr(file, "schema_version", int64_t(1));
    h5::set_attr(file, "source", map.source);
    h5::set_attr(file, "source_format", map.format);
    h5::set_attr(file, "checkpoint", checkpoint);
    h5::set_attr(file, "start_time_ns", int64_t(map.start_time_ns));
    h5::set_attr(file, "sampling_rate_hz", map.sampling_rate_hz);
    h5::set_attr(file, "channel_spacing_m", map.channel_spacing_m);
    h5::set_attr(file, "distance_start_m", map.distance_start_m);
    h5::set_attr(file, "record_channels", int64_t(map.record_channels));
    h5::set_attr(file, "record_samples", int64_t(map.record_samples));
    h5::set_attr(file, "cell_channels", int64_t(map.cell_channels));
    h5::set_attr(file, "cell_samples", int64_t(map.cell_samples));
    h5::set_attr(file, "windows", int64_t(map.windows));
    h5::set_attr(file, "skipped_windows", int64_t(map.skipped_windows));
    h5::set_attr(file, "axes", "distance x time");
    {
      Handle d = h5::create_dataset(file, "p_usable", H5T_IEEE_F32LE, {map.rows, map.cols});
      h5::write_box(d, H5T_NATIVE_FLOAT, map.p.data(), {0, 0}, {map.rows, map.cols});
      h5::set_attr(d, "description", "mean P(usable) of the windows covering each cell; NaN = unscored");
    }
    std::vector<double> distance(map.rows), time(map.cols);
    for (size_t r = 0; r < map.rows; ++r) distance[r] = map.distance_m(r);
    for (size_t c = 0; c < map.cols; ++c) time[c] = map.time_s(c);
    Handle dd = h5::create_dataset(file, "distance_m", H5T_IEEE_F64LE, {map.rows});
    h5::write_box(dd, H5T_NATIVE_DOUBLE, distance.data(), {0}, {map.rows});
    h5::set_attr(dd, "units", "m");
    Handle td = h5::create_dataset(file, "time_s", H5T_IEEE_F64LE, {map.cols});
    h5::write_box(td, H5T_NATIVE_DOUBLE, time.data(), {0}, {map.cols});
    h5::set_attr(td, "units", "s since start_time_ns");
  });
}

void write_probability_map_png(const std::string& path, const ProbabilityMap& map) {
  const size_t scale = std::max<size_t>(1, std::min<size_t>(8, 800 / std::max<size_t>(1, std::max(map.rows, map.cols))));
  const size_t width = map.cols * scale, height = map.rows * scale;
  std::vector<uint8_t> rgb(width * height * 3);
  for (size_t y = 0; y < height; ++y)
    for (size_t x = 0; x < width; ++x) {
      float p = map.at(y / scale, x / scale);
      uint8_t* px = &rgb[(y * width + x) * 3];
      if (std::isnan(p)) {
        px[0] = px[1] = px[2] = 128;
        continue;
      }
      const uint8_t* color = viridis_rgb(uint8_t(std::lround(std::clamp(p, 0.0f, 1.0f) * 255)));
      for (int k = 0; k < 3; ++k) px[k] = color[k];
    }
  write_rgb_png(path, width, height, rgb);
}

}  // namespace dasnet
