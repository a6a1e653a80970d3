// The study's four reference images and the P(usable) range a trustworthy model gives each:
// white noise < 0.1, coherent waves > 0.9, non-coherent waves 0.7-0.9, saturated 0.2-0.3.
// Built from short synthetic records (default) or cut from any record at (file, channel, sample);
// stored as a small HDF5 file:
//   /                    attrs: format = "dasnet-reference-set", schema_version = 1
//   /references/<name>/image  float32 [C, H, W] in [0, 1] (per-patch min-max, like the data sets)
//                        attrs: expected_min, expected_max, origin (text), order (int)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/patch_image.h"

namespace dasnet {

struct ReferenceImage {
  std::string name;
  std::vector<float> image;  // C x H x W, values in [0, 1]
  Shape shape;               // n = 1
  float expected_min = 0, expected_max = 1;  // P(usable) range of a trustworthy model
  std::string origin;        // where the image came from
  bool accepts(float p_usable) const { return p_usable >= expected_min && p_usable <= expected_max; }
};

// The four names in order, with their expected ranges.
struct ReferenceKind {
  const char* name;
  float expected_min, expected_max;
};
const std::vector<ReferenceKind>& reference_kinds();  // white_noise, coherent_waves, noncoherent_waves, saturated

struct ReferenceBuildOptions {
  int patch_channels = 200, patch_samples = 200;
  ImageColor color = ImageColor::gray;  // gray: 1 channel; gray3 / viridis: 3 channels
  uint64_t seed = 7;
  double noise_level = 30, rate_hz = 500, spacing_m = 2;
};

// The four images from synthetic scenes (one kind of signal each).
std::vector<ReferenceImage> synthetic_reference_set(const ReferenceBuildOptions& options);
// One image cut from a record at (first channel, first sample).
ReferenceImage reference_from_record(const std::string& name, const std::string& path, size_t channel, size_t sample,
                                     const ReferenceBuildOptions& options);

void save_reference_set(const std::string& path, const std::vector<ReferenceImage>& images);
// Throws std::runtime_error naming the file and the field for missing or malformed files.
std::vector<ReferenceImage> load_reference_set(const std::string& path);

}  // namespace dasnet
