// Usable-energy maps over long DAS records: a window of the model's image size slides over the
// record (distance x time) with a stride; each window is min-max scaled like the data sets
// (uint8 quantized, /255), classified in eval mode in batches, and every pixel gets the mean
// P(usable) of the windows covering it. The record is read in time chunks through read_das, so
// memory stays bounded whatever the file size.
//
// The map is stored per cell of stride_channels x stride_samples pixels: with strides that
// divide the image size every pixel of a cell is covered by the same windows, so the cell value
// is exactly the per-pixel mean. The last window along each axis is aligned to the record's end
// so the whole record is covered; cells it overlaps only in part get the overlap-weighted mean.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/network.h"
#include "io/das_source.h"
#include "models/model_config.h"

namespace dasnet {

struct InferOptions {
  int stride_channels = 0;  // 0: the image height (non-overlapping windows)
  int stride_samples = 0;   // 0: the image width
  int batch_size = 64;
  size_t max_chunk_bytes = size_t(256) << 20;  // float samples held per read
  // (raw bytes read so far, raw bytes in the file)
  std::function<void(double, double)> progress;
};

struct ProbabilityMap {
  std::string source, format;
  size_t record_channels = 0, record_samples = 0;
  int cell_channels = 0, cell_samples = 0;  // = strides
  size_t rows = 0, cols = 0;                // cells along distance and time
  std::vector<float> p;                     // rows x cols; NaN where no window could be scored
  double sampling_rate_hz = 0, channel_spacing_m = 0, distance_start_m = 0;
  int64_t start_time_ns = 0;
  size_t windows = 0, skipped_windows = 0;  // skipped: constant or non-finite patches
  double raw_bytes = 0, seconds = 0;
  float at(size_t row, size_t col) const { return p[row * cols + col]; }
  // Distance of the centre of cell row r (m) and time of the centre of column c (s from start).
  double distance_m(size_t r) const;
  double time_s(size_t c) const;
};

// Window start positions along an axis: 0, stride, ... and one aligned to the end.
std::vector<size_t> window_starts(size_t length, int window, int stride);

ProbabilityMap infer_probability_map(Network& net, const ModelConfig& model, const std::string& das_path,
                                     const InferOptions& options);
// The same over any source: a --time/--distance window of a file, or contiguous files of a
// folder read as one record (io/das_source.h); map.source names it.
ProbabilityMap infer_probability_map(Network& net, const ModelConfig& model, const DasSource& source,
                                     const InferOptions& options);

// A record already in memory (a window read by the Python module, a DASCore patch's array):
// channels x time floats, row k at data + k * row_stride, and the axes the map is placed on.
struct RecordView {
  const float* data = nullptr;
  size_t num_channels = 0, num_samples = 0, row_stride = 0;
  double sampling_rate_hz = 0, channel_spacing_m = 0, distance_start_m = 0;
  int64_t start_time_ns = 0;
  std::string source, format;
};

// The same map of a record in memory (no reading, no chunks).
ProbabilityMap infer_probability_map(Network& net, const ModelConfig& model, const RecordView& record,
                                     const InferOptions& options);

// /p_usable float32 [rows, cols] (distance x time), /distance_m [rows], /time_s [cols], attributes
// with the record's start time, rates, strides, the source and the checkpoint.
void write_probability_map_h5(const std::string& path, const ProbabilityMap& map, const std::string& checkpoint);
// Grayscale-free colour picture (viridis, P = 0 dark, 1 yellow; grey where unscored); distance down,
// time across, one pixel per cell, scaled up so that small maps stay visible.
void write_probability_map_png(const std::string& path, const ProbabilityMap& map);

}  // namespace dasnet
