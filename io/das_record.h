// One DAS recording in memory, whatever instrument wrote it: the readers of io/ fill this.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/sample_buffer.h"

namespace dasnet {

struct DasRecord {
  // channels x time, row-major (data[ch * num_samples + t]), in the units below after scaling.
  std::vector<float> data;
  size_t num_channels = 0;
  size_t num_samples = 0;
  int64_t start_time_ns = 0;     // UTC, nanoseconds since the Unix epoch
  double sampling_rate_hz = 0;   // samples per second along time
  double channel_spacing_m = 0;  // metres between channels
  double gauge_length_m = 0;     // 0 where the file does not say
  std::string units;             // e.g. "counts", "strain rate", "m/s"
  double scale_factor = 1.0;     // physical = raw * scale_factor (already applied to data)
  std::string raw_type;          // element type as stored: "int16", "float32", ...
  std::string format;            // "dsi-mat", "prodml", "terra15", ...
  std::string source;            // file path
  // Added by the readers (io/das_formats.h):
  size_t non_finite_count = 0;   // NaN/Inf samples kept in data; refuse patches that hold them
  double distance_start_m = 0;   // distance along the fibre of the first channel read
  size_t first_channel = 0;      // index in the file of the first channel read
  size_t first_sample = 0;       // index in the file of the first sample read
  // What real files hold beyond a plain matrix (io/das_formats.h DasInfo has the same fields):
  size_t channel_step = 1;         // stored channel k is fibre locus first_locus + k * channel_step
  int64_t first_locus = 0;         // locus index of the file's first channel (PRODML may be < 0)
  std::string distance_units = "m";  // as the file states them; "" when it gives channel numbers only
  bool processed = false;          // a processed product (FBE band, PSD), not raw strain (rate)
  std::string product;             // what the processed product is, e.g. "FBE band 2 (9.28-50.3 Hz)"
  size_t record_index = 0;         // which record of a file that holds several (FBE bands)
  size_t non_finite_channel_count = 0;  // channels read whose every sample is NaN/Inf
  // Filled instead of `data` by read_das_stored (io/das_formats.h): the samples as the file
  // stores them, element type `stored_type` ("int16", "int32", "float32", "float64"), unscaled
  // (physical = stored * scale_factor), in the file's axis order: time-major
  // (stored[t * num_channels + ch]) where stored_time_major, else channel-major like `data`.
  SampleBytes stored;  // uninitialized when sized (io/sample_buffer.h)
  std::string stored_type;
  bool stored_time_major = false;
  float at(size_t ch, size_t t) const { return data[ch * num_samples + t]; }
};

}  // namespace dasnet
