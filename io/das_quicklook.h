// A quick-look picture of a DAS file: distance across, time down, symmetric diverging colours
// (blue - white - red) clipped at a robust percentile of |value|.
#pragma once
#include <cstddef>
#include <string>

namespace dasnet {

struct QuicklookOptions {
  size_t max_width = 1600;    // pixels across (channels are binned to fit)
  size_t max_height = 1200;   // pixels down (samples are binned to fit)
  double clip_percentile = 99.0;  // of |value| over the binned picture
};

struct QuicklookResult {
  size_t width = 0, height = 0;
  size_t channels_per_pixel = 1, samples_per_pixel = 1;
  double clip_value = 0;       // |value| shown at full colour
  size_t non_finite_count = 0;  // NaN/Inf samples in the file (drawn grey)
};

// Reads the file window by window (memory stays bounded), keeps the sample of largest
// magnitude in each pixel's bin (so short events survive binning) and writes an RGB PNG.
QuicklookResult write_quicklook_png(const std::string& das_path, const std::string& png_path,
                                    const QuicklookOptions& options = {});

}  // namespace dasnet
