#include "io/patch_image.h"

#include <algorithm>
#include <cmath>

#include "core/tensor.h"
#include "core/usage_error.h"

namespace dasnet {

namespace {

// Nine viridis colors at 0, 1/8, ..., 1 (matplotlib's published palette).
const uint8_t kViridisAnchors[9][3] = {{68, 1, 84},    {71, 45, 123},  {59, 82, 139},  {44, 114, 142}, {33, 145, 140},
                                       {40, 174, 128}, {94, 201, 98},  {173, 220, 48}, {253, 231, 37}};

struct ViridisTable {
  uint8_t rgb[256][3];
  ViridisTable() {
    for (int v = 0; v < 256; ++v) {
      double x = v / 255.0 * 8.0;
      int i = std::min(7, int(x));
      double f = x - i;
      for (int c = 0; c < 3; ++c)
        rgb[v][c] = uint8_t(std::lround(kViridisAnchors[i][c] * (1 - f) + kViridisAnchors[i + 1][c] * f));
    }
  }
};

const ViridisTable& viridis() {
  static const ViridisTable table;
  return table;
}

}  // namespace

const uint8_t* viridis_rgb(uint8_t level) { return viridis().rgb[level]; }

ImageColor parse_image_color(const std::string& name) {
  if (name == "gray") return ImageColor::gray;
  if (name == "gray3") return ImageColor::gray3;
  if (name == "viridis") return ImageColor::viridis;
  throw UsageError("--color must be gray, gray3 or viridis, got '" + name + "'");
}

const char* image_color_name(ImageColor color) {
  switch (color) {
    case ImageColor::gray: return "gray";
    case ImageColor::gray3: return "gray3";
    case ImageColor::viridis: return "viridis";
  }
  return "?";
}

int image_channels(ImageColor color) { return color == ImageColor::gray ? 1 : 3; }

bool patch_range(const float* patch, size_t row_stride, int rows, int cols, float* min_value, float* max_value) {
  float lo = INFINITY, hi = -INFINITY;
  bool finite = true;
  for (int r = 0; r < rows; ++r) {
    const float* row = patch + size_t(r) * row_stride;
    for (int t = 0; t < cols; ++t) {
      finite = finite && std::isfinite(row[t]);
      lo = std::min(lo, row[t]);
      hi = std::max(hi, row[t]);
    }
  }
  *min_value = lo;
  *max_value = hi;
  return finite;
}

PatchImageStatus patch_to_image(const float* patch, size_t row_stride, int rows, int cols, ImageColor color,
                                uint8_t* out) {
  float lo, hi;
  if (!patch_range(patch, row_stride, rows, cols, &lo, &hi)) return PatchImageStatus::non_finite;
  if (!(hi > lo)) return PatchImageStatus::constant;
  const double scale = 255.0 / (double(hi) - lo);
  const size_t plane = size_t(rows) * cols;
  for (int r = 0; r < rows; ++r) {
    const float* row = patch + size_t(r) * row_stride;
    for (int t = 0; t < cols; ++t) {
      const long v = std::lround((double(row[t]) - lo) * scale);
      const uint8_t gray = uint8_t(std::clamp(v, 0L, 255L));
      const size_t at = size_t(r) * cols + t;
      if (color == ImageColor::viridis) {
        for (int c = 0; c < 3; ++c) out[c * plane + at] = viridis().rgb[gray][c];
      } else {
        out[at] = gray;
        if (color == ImageColor::gray3) out[plane + at] = out[2 * plane + at] = gray;
      }
    }
  }
  return PatchImageStatus::ok;
}

PatchImageStatus patch_to_unit_floats(const float* patch, size_t row_stride, int rows, int cols, float* out) {
  float lo, hi;
  if (!patch_range(patch, row_stride, rows, cols, &lo, &hi)) return PatchImageStatus::non_finite;
  if (!(hi > lo)) return PatchImageStatus::constant;
  const double scale = 1.0 / (double(hi) - lo);
  for (int r = 0; r < rows; ++r)
    for (int t = 0; t < cols; ++t)
      out[size_t(r) * cols + t] = float((double(patch[size_t(r) * row_stride + t]) - lo) * scale);
  return PatchImageStatus::ok;
}

}  // namespace dasnet
