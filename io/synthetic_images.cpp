#include "io/synthetic_images.h"

#include <algorithm>
#include <cmath>

#include "core/rng.h"

namespace dasnet {

SyntheticImages::SyntheticImages(size_t count, Shape sample_shape, uint64_t seed)
    : count_(count), shape_(sample_shape), seed_(seed) {
  shape_.n = 1;
}

void SyntheticImages::read(size_t index, float* image, int* label) const {
  Rng rng(derive_seed(seed_, index));
  const int h = shape_.h, w = shape_.w;
  const int waves = int(index % 2);  // balanced classes
  std::vector<float> plane(size_t(h) * w);
  for (auto& v : plane) v = rng.normal() * 0.5f;
  if (waves) {
    // 1-3 plane waves: frequency along time (cycles per sample) and moveout (samples per channel).
    int count = 1 + int(rng.below(3));
    for (int k = 0; k < count; ++k) {
      float freq = rng.uniform(0.02f, 0.12f);
      float slope = rng.uniform(-2.0f, 2.0f);
      float phase = rng.uniform(0.0f, 6.2831853f);
      float amp = rng.uniform(0.8f, 1.5f);
      for (int ch = 0; ch < h; ++ch)
        for (int t = 0; t < w; ++t)
          plane[size_t(ch) * w + t] += amp * std::sin(6.2831853f * freq * (t - slope * ch) + phase);
    }
  }
  auto [lo, hi] = std::minmax_element(plane.begin(), plane.end());
  float range = *hi - *lo > 0 ? *hi - *lo : 1.0f;
  for (int c = 0; c < shape_.c; ++c)
    for (size_t i = 0; i < plane.size(); ++i) image[size_t(c) * plane.size() + i] = (plane[i] - *lo) / range;
  *label = waves;
}

}  // namespace dasnet
