#include "io/das_quicklook.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "io/das_formats.h"
#include "io/png_image.h"

namespace dasnet {
namespace {


// Blue (-1) - white (0) - red (+1).
void diverging(double x, unsigned char* out) {
  x = std::clamp(x, -1.0, 1.0);
  const auto fade = [](double t) { return static_cast<unsigned char>(std::lround(255.0 * (1.0 - t))); };
  if (x >= 0) {
    out[0] = 255;
    out[1] = fade(x);
    out[2] = fade(x);
  } else {
    out[0] = fade(-x);
    out[1] = fade(-x);
    out[2] = 255;
  }
}

}  // namespace

QuicklookResult write_quicklook_png(const std::string& das_path, const std::string& png_path,
                                    const QuicklookOptions& options) {
  const DasInfo info = inspect_das(das_path);
  QuicklookResult result;
  result.channels_per_pixel = (info.num_channels + options.max_width - 1) / std::max<size_t>(1, options.max_width);
  result.samples_per_pixel = (info.num_samples + options.max_height - 1) / std::max<size_t>(1, options.max_height);
  result.channels_per_pixel = std::max<size_t>(1, result.channels_per_pixel);
  result.samples_per_pixel = std::max<size_t>(1, result.samples_per_pixel);
  result.width = (info.num_channels + result.channels_per_pixel - 1) / result.channels_per_pixel;
  result.height = (info.num_samples + result.samples_per_pixel - 1) / result.samples_per_pixel;

  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> picture(result.width * result.height, nan);  // signed value of largest |.|
  // Windows of whole pixel rows, about 64 MB of float each.
  const size_t row_bytes = info.num_channels * result.samples_per_pixel * sizeof(float);
  const size_t rows_per_window = std::max<size_t>(1, (size_t{64} << 20) / std::max<size_t>(1, row_bytes));
  for (size_t y0 = 0; y0 < result.height; y0 += rows_per_window) {
    ReadWindow w;
    w.first_sample = y0 * result.samples_per_pixel;
    w.num_samples = std::min(rows_per_window * result.samples_per_pixel, info.num_samples - w.first_sample);
    const DasRecord rec = read_das(das_path, w);
    result.non_finite_count += rec.non_finite_count;
    for (size_t c = 0; c < rec.num_channels; ++c) {
      const size_t x = c / result.channels_per_pixel;
      for (size_t t = 0; t < rec.num_samples; ++t) {
        const float v = rec.at(c, t);
        if (!std::isfinite(v)) continue;
        float& p = picture[(y0 + t / result.samples_per_pixel) * result.width + x];
        if (std::isnan(p) || std::fabs(v) > std::fabs(p)) p = v;
      }
    }
  }

  std::vector<float> magnitudes;
  magnitudes.reserve(picture.size());
  for (float v : picture)
    if (!std::isnan(v)) magnitudes.push_back(std::fabs(v));
  if (!magnitudes.empty()) {
    const double q = std::clamp(options.clip_percentile, 0.0, 100.0) / 100.0;
    const size_t k = std::min(magnitudes.size() - 1, static_cast<size_t>(q * (magnitudes.size() - 1) + 0.5));
    std::nth_element(magnitudes.begin(), magnitudes.begin() + static_cast<std::ptrdiff_t>(k), magnitudes.end());
    result.clip_value = magnitudes[k];
  }
  const double scale = result.clip_value > 0 ? 1.0 / result.clip_value : 0.0;
  std::vector<unsigned char> rgb(picture.size() * 3);
  for (size_t i = 0; i < picture.size(); ++i) {
    if (std::isnan(picture[i])) {
      rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = 128;  // no finite sample in the bin
    } else {
      diverging(picture[i] * scale, &rgb[i * 3]);
    }
  }
  write_rgb_png(png_path, result.width, result.height, rgb);
  return result;
}

}  // namespace dasnet
