#include "io/record_patches.h"

#include <algorithm>
#include <stdexcept>

namespace dasnet {

RecordPatches::RecordPatches(const std::string& path, size_t patch_channels, size_t patch_samples,
                             size_t channel_origin, size_t sample_origin, size_t window_bytes)
    : RecordPatches(DasSource::file(path), patch_channels, patch_samples, channel_origin, sample_origin, window_bytes) {}

RecordPatches::RecordPatches(DasSource source, size_t patch_channels, size_t patch_samples, size_t channel_origin,
                             size_t sample_origin, size_t window_bytes)
    : source_(std::move(source)),
      info_(source_.info()),
      patch_channels_(patch_channels),
      patch_samples_(patch_samples),
      channel_origin_(channel_origin),
      sample_origin_(sample_origin) {
  if (patch_channels == 0 || patch_samples == 0) throw std::invalid_argument("RecordPatches: empty patch size");
  if (info_.num_channels >= channel_origin) rows_ = (info_.num_channels - channel_origin) / patch_channels;
  if (info_.num_samples >= sample_origin) cols_ = (info_.num_samples - sample_origin) / patch_samples;
  if (rows_ == 0) cols_ = 0;
  const size_t column_bytes = std::max<size_t>(1, rows_ * patch_channels * patch_samples * sizeof(float));
  cols_per_window_ = std::max<size_t>(1, window_bytes / column_bytes);
}

void RecordPatches::load_window(size_t w) {
  if (w >= windows()) throw std::out_of_range(source_.name() + ": patch window " + std::to_string(w) + " out of range");
  window_col0_ = w * cols_per_window_;
  window_ncols_ = std::min(cols_per_window_, cols_ - window_col0_);
  ReadWindow window;
  window.first_channel = channel_origin_;
  window.num_channels = rows_ * patch_channels_;
  window.first_sample = patch_sample(window_col0_);
  window.num_samples = window_ncols_ * patch_samples_;
  record_ = source_.read(window);
  if (record_.num_channels != window.num_channels || record_.num_samples != window.num_samples)
    throw std::runtime_error(source_.name() + ": reader returned " + std::to_string(record_.num_channels) + " x " +
                             std::to_string(record_.num_samples) + " for a window of " +
                             std::to_string(window.num_channels) + " x " + std::to_string(window.num_samples));
}

const float* RecordPatches::patch(size_t row, size_t col) const {
  if (row >= rows_ || col < window_col0_ || col >= window_col0_ + window_ncols_)
    throw std::out_of_range(source_.name() + ": patch (" + std::to_string(row) + ", " + std::to_string(col) +
                            ") is not in the loaded window");
  return record_.data.data() + row * patch_channels_ * record_.num_samples + (col - window_col0_) * patch_samples_;
}

}  // namespace dasnet
