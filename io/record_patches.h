// Non-overlapping patches of a DAS file on a grid, read through the DAS readers a window (a run
// of grid columns, all channels) at a time so large files never sit in memory whole.
#pragma once
#include <cstddef>
#include <string>

#include "io/das_formats.h"
#include "io/das_source.h"

namespace dasnet {

class RecordPatches {
 public:
  // Grid of patch_channels x patch_samples patches starting at (channel_origin, sample_origin).
  // window_bytes bounds the float buffer of one window.
  RecordPatches(const std::string& path, size_t patch_channels, size_t patch_samples, size_t channel_origin = 0,
                size_t sample_origin = 0, size_t window_bytes = size_t(64) << 20);
  // The same over any source: a window of a file, or contiguous files read as one record.
  RecordPatches(DasSource source, size_t patch_channels, size_t patch_samples, size_t channel_origin = 0,
                size_t sample_origin = 0, size_t window_bytes = size_t(64) << 20);
  const DasSource& source() const { return source_; }
  const DasInfo& info() const { return info_; }
  size_t rows() const { return rows_; }  // patches along channels
  size_t cols() const { return cols_; }  // patches along time
  size_t columns_per_window() const { return cols_per_window_; }
  size_t windows() const { return cols_ == 0 ? 0 : (cols_ + cols_per_window_ - 1) / cols_per_window_; }
  // Reads window w (grid columns [w * columns_per_window, ...)); patches of other windows are
  // unavailable until loaded.
  void load_window(size_t w);
  size_t window_first_col() const { return window_col0_; }
  size_t window_cols() const { return window_ncols_; }
  // Patch (row, col) of the loaded window: rows start at patch(...) + r * row_stride().
  const float* patch(size_t row, size_t col) const;
  size_t row_stride() const { return record_.num_samples; }
  size_t patch_channel(size_t row) const { return channel_origin_ + row * patch_channels_; }
  size_t patch_sample(size_t col) const { return sample_origin_ + col * patch_samples_; }

 private:
  DasSource source_;
  DasInfo info_;
  size_t patch_channels_, patch_samples_, channel_origin_, sample_origin_;
  size_t rows_ = 0, cols_ = 0, cols_per_window_ = 1;
  size_t window_col0_ = 0, window_ncols_ = 0;
  DasRecord record_;
};

}  // namespace dasnet
