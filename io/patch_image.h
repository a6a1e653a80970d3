// Patch -> image: the study's per-patch min-max scaling to [0, 1], stored as uint8 (0-255) in
// one channel (gray), the gray value copied into three (gray3, as the study did) or a colormap
// (viridis, piecewise linear through nine of matplotlib's viridis colors).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include "core/usage_error.h"

namespace dasnet {

enum class ImageColor { gray, gray3, viridis };
ImageColor parse_image_color(const std::string& name);  // throws UsageError
const char* image_color_name(ImageColor color);
int image_channels(ImageColor color);
// The viridis colour (3 bytes, RGB) of a gray level 0-255.
const uint8_t* viridis_rgb(uint8_t level);

// Minimum and maximum of a rows x cols patch; false when it holds NaN or Inf.
bool patch_range(const float* patch, size_t row_stride, int rows, int cols, float* min_value, float* max_value);

enum class PatchImageStatus { ok, constant, non_finite };

// Writes image_channels(color) x rows x cols bytes to `out`. Constant patches (max == min) have
// no contrast to scale and non-finite ones no range: both are refused (status says which) and
// `out` is left untouched; callers skip and count them.
PatchImageStatus patch_to_image(const float* patch, size_t row_stride, int rows, int cols, ImageColor color,
                                uint8_t* out);

// Same scaling to floats in [0, 1] (gray, one channel), for reference images.
PatchImageStatus patch_to_unit_floats(const float* patch, size_t row_stride, int rows, int cols, float* out);

}  // namespace dasnet
