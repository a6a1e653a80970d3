#include "infer/probability_map.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/das_formats.h"
#include "io/hdf5_util.h"
#include "io/patch_image.h"
#include "io/png_image.h"
#include "train/trainer.h"

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

namespace {

// Slides the model's window over a record and averages P(usable) per cell. The samples come in
// time spans (the whole record in memory, or chunks read from a file): score() takes one span
// and the window starts that lie inside it.
class MapBuilder {
 public:
  // The map of `record`'s shape and axes (its samples come through score()).
  MapBuilder(Network& net, const ModelConfig& model, const InferOptions& options, const RecordView& record)
      : net_(net), model_(model), options_(options) {
    map_.source = record.source;
    map_.format = record.format;
    map_.record_channels = record.num_channels;
    map_.record_samples = record.num_samples;
    map_.sampling_rate_hz = record.sampling_rate_hz;
    map_.channel_spacing_m = record.channel_spacing_m;
    map_.distance_start_m = record.distance_start_m;
    map_.start_time_ns = record.start_time_ns;
    const int wc = model.height, wt = model.image_width;
    const int sc = options.stride_channels > 0 ? options.stride_channels : wc;
    const int st = options.stride_samples > 0 ? options.stride_samples : wt;
    if (wc % sc != 0 || wt % st != 0)
      throw UsageError("--stride " + std::to_string(sc) + "x" + std::to_string(st) +
                       " must divide the model's image size " + std::to_string(wc) + "x" + std::to_string(wt));
    if (options.batch_size < 1) throw UsageError("--batch-size must be >= 1");
    const size_t channels = map_.record_channels, samples = map_.record_samples;
    map_.cell_channels = sc;
    map_.cell_samples = st;
    channel_starts_ = window_starts(channels, wc, sc);
    time_starts_ = window_starts(samples, wt, st);
    if (channel_starts_.empty() || time_starts_.empty())
      throw std::runtime_error(map_.source + ": record of " + std::to_string(channels) + " channels x " +
                               std::to_string(samples) + " samples is smaller than the model's " + std::to_string(wc) +
                               " x " + std::to_string(wt) + " image");
    map_.rows = (channels + sc - 1) / sc;
    map_.cols = (samples + st - 1) / st;
    acc_ = CellAccumulator{map_.rows, map_.cols, sc, st, channels, samples,
                           std::vector<double>(map_.rows * map_.cols, 0.0),
                           std::vector<double>(map_.rows * map_.cols, 0.0)};
    plane_ = size_t(wc) * wt;
    image_ = plane_ * model.in_channels;
    batch_.resize(size_t(options.batch_size) * image_);
    bytes_.resize(plane_);
  }

  const std::vector<size_t>& time_starts() const { return time_starts_; }

  // Scores the windows at time_starts()[first..last] of a span of all channels whose first
  // sample is record sample `span_start`, rows `row_stride` floats apart.
  void score(const float* span, size_t row_stride, size_t span_start, size_t first, size_t last) {
    const int wc = model_.height, wt = model_.image_width;
    for (size_t ti = first; ti <= last; ++ti) {
      const size_t t_local = time_starts_[ti] - span_start;
      for (size_t c0 : channel_starts_) {
        const float* patch = span + c0 * row_stride + t_local;
        if (patch_to_image(patch, row_stride, wc, wt, ImageColor::gray, bytes_.data()) != PatchImageStatus::ok) {
          ++map_.skipped_windows;
          continue;
        }
        float* dst = batch_.data() + batch_origin_.size() * image_;
        for (size_t k = 0; k < plane_; ++k) dst[k] = float(bytes_[k]) / 255.0f;
        for (int ch = 1; ch < model_.in_channels; ++ch) std::copy(dst, dst + plane_, dst + ch * plane_);  // "RGB"
        batch_origin_.push_back({c0, time_starts_[ti]});
        if (int(batch_origin_.size()) == options_.batch_size) flush();
      }
    }
    flush();
  }

  ProbabilityMap& map() { return map_; }

  ProbabilityMap finish(std::chrono::steady_clock::time_point started) {
    map_.p.resize(map_.rows * map_.cols);
    for (size_t i = 0; i < map_.p.size(); ++i)
      map_.p[i] = acc_.weight[i] > 0 ? float(acc_.sum[i] / acc_.weight[i]) : std::nanf("");
    map_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return std::move(map_);
  }

 private:
  void flush() {
    if (batch_origin_.empty()) return;
    auto p = predict_p_usable(net_, model_.mode, batch_.data(), int(batch_origin_.size()));
    for (size_t i = 0; i < batch_origin_.size(); ++i)
      acc_.add(batch_origin_[i].first, model_.height, batch_origin_[i].second, model_.image_width, p[i]);
    map_.windows += batch_origin_.size();
    batch_origin_.clear();
  }

  Network& net_;
  const ModelConfig& model_;
  const InferOptions& options_;
  ProbabilityMap map_;
  std::vector<size_t> channel_starts_, time_starts_;
  CellAccumulator acc_;
  size_t plane_ = 0, image_ = 0;
  std::vector<float> batch_;
  std::vector<std::pair<size_t, size_t>> batch_origin_;  // (channel, sample) per image in the batch
  std::vector<uint8_t> bytes_;
};

}  // namespace

ProbabilityMap infer_probability_map(Network& net, const ModelConfig& model, const std::string& path,
                                     const InferOptions& options) {
  return infer_probability_map(net, model, DasSource::file(path), options);
}

ProbabilityMap infer_probability_map(Network& net, const ModelConfig& model, const DasSource& source,
                                     const InferOptions& options) {
  const std::string& path = source.name();
  const auto started = std::chrono::steady_clock::now();
  const DasInfo& info = source.info();
  RecordView file;  // the axes only: the samples are read below, chunk by chunk
  file.num_channels = info.num_channels;
  file.num_samples = info.num_samples;
  file.sampling_rate_hz = info.sampling_rate_hz;
  file.channel_spacing_m = info.channel_spacing_m;
  file.distance_start_m = info.distance_start_m;
  file.start_time_ns = info.start_time_ns;
  file.source = path;
  file.format = info.format;
  MapBuilder builder(net, model, options, file);
  const std::vector<size_t>& time_starts = builder.time_starts();
  const int wt = model.image_width;

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
    ProbabilityMap& map = builder.map();
    map.raw_bytes += double(new_end - std::max(read_until, window.first_sample)) * info.num_channels * element;
    read_until = new_end;
    builder.score(record.data.data(), record.num_samples, window.first_sample, first, last);
    if (options.progress) options.progress(map.raw_bytes, total_bytes);
    first = last + 1;
  }
  return builder.finish(started);
}

ProbabilityMap infer_probability_map(Network& net, const ModelConfig& model, const RecordView& record,
                                     const InferOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  MapBuilder builder(net, model, options, record);
  builder.score(record.data, record.row_stride, 0, 0, builder.time_starts().size() - 1);
  builder.map().raw_bytes = double(record.num_channels) * double(record.num_samples) * sizeof(float);
  return builder.finish(started);
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
